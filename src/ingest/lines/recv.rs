//! Many datagrams per system call: `recvmmsg` on Linux, one `recv_from` elsewhere. The reader
//! thread's cost is mostly system calls, so a burst is read in a few of them.

use std::net::UdpSocket;

/// Datagrams one call can return.
pub const SLOTS: usize = 256;
/// Room for the largest UDP payload (65,507 bytes) in each slot.
const SLOT: usize = 65_536;

/// Reused buffers for [`Datagrams::recv`].
pub struct Datagrams {
    buf: Vec<u8>,
    lens: [usize; SLOTS],
}

impl Datagrams {
    pub fn new() -> Datagrams {
        // Zeroed memory is mapped lazily: only the bytes datagrams fill cost memory.
        Datagrams { buf: vec![0; SLOTS * SLOT], lens: [0; SLOTS] }
    }

    /// The `i`th datagram of the last [`Datagrams::recv`].
    pub fn get(&self, i: usize) -> &[u8] {
        &self.buf[i * SLOT..i * SLOT + self.lens[i]]
    }

    /// Receives up to [`SLOTS`] datagrams. With `wait`, blocks for the first one (within the
    /// socket's read timeout, then `WouldBlock`/`TimedOut`); without, takes only what is queued.
    #[cfg(target_os = "linux")]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let base = self.buf.as_mut_ptr();
        // SAFETY: the iovecs point into `self.buf`, slot by slot, each SLOT bytes long and
        // within the buffer; the headers point at the iovecs, which outlive the call.
        let mut iovs: [libc::iovec; SLOTS] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
        for (i, (iov, hdr)) in iovs.iter_mut().zip(hdrs.iter_mut()).enumerate() {
            iov.iov_base = unsafe { base.add(i * SLOT) }.cast();
            iov.iov_len = SLOT;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
        }
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        // SAFETY: `hdrs` holds SLOTS valid headers; a null timeout means none.
        let n = unsafe {
            libc::recvmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), SLOTS as _, flags as _, std::ptr::null_mut())
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        for (len, hdr) in self.lens.iter_mut().zip(&hdrs[..n]) {
            *len = hdr.msg_len as usize;
        }
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> std::io::Result<usize> {
        if !wait {
            return Ok(0);
        }
        let (n, _) = socket.recv_from(&mut self.buf[..SLOT])?;
        self.lens[0] = n;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_read_in_one_call_and_each_datagram_kept_whole() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![b'x'; 60_000];
        for i in 0..70 {
            let payload = if i == 3 { big.clone() } else { format!("m{i}:1|c").into_bytes() };
            sender.send_to(&payload, socket.local_addr().unwrap()).unwrap();
        }
        let mut d = Datagrams::new();
        let first = d.recv(&socket, true).unwrap();
        assert!((1..=SLOTS).contains(&first));
        let mut got: Vec<Vec<u8>> = (0..first).map(|i| d.get(i).to_vec()).collect();
        while got.len() < 70 {
            let n = d.recv(&socket, true).unwrap();
            got.extend((0..n).map(|i| d.get(i).to_vec()));
        }
        assert_eq!(got[0], b"m0:1|c");
        assert_eq!(got[3].len(), 60_000);
        assert_eq!(got[69], b"m69:1|c");
        assert!(matches!(d.recv(&socket, false), Ok(0) | Err(_)), "nothing left");
    }
}
