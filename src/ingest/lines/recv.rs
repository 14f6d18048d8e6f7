//! Many datagrams per system call: `recvmmsg` on Linux, one `recv_from` elsewhere. The reader
//! thread's cost is mostly system calls, so a burst is read in a few of them.

use std::net::UdpSocket;

/// Datagrams one call can return.
pub const SLOTS: usize = 256;
/// Each slot's first part: a typical datagram fits, and the slots' first parts lie next to
/// each other, so that one call fills a few hundred KiB of memory that stays in cache (slots
/// 64 KiB apart would all map to the same cache sets).
const HEAD: usize = 2048;
/// The rest of a slot, touched only by a datagram longer than [`HEAD`]: room for the largest
/// UDP payload (65,507 bytes) in each slot.
const TAIL: usize = 65_536 - HEAD;

/// Reused buffers for [`Datagrams::recv`], and the headers that point into them, made once.
pub struct Datagrams {
    heads: Vec<u8>,
    tails: Vec<u8>,
    lens: [usize; SLOTS],
    #[cfg(target_os = "linux")]
    iovs: Box<[[libc::iovec; 2]]>,
    #[cfg(target_os = "linux")]
    hdrs: Box<[libc::mmsghdr]>,
}

impl Datagrams {
    pub fn new() -> Datagrams {
        // Zeroed memory is mapped lazily: only the bytes datagrams fill cost memory.
        let mut d = Datagrams {
            heads: vec![0; SLOTS * HEAD],
            tails: vec![0; SLOTS * TAIL],
            lens: [0; SLOTS],
            #[cfg(target_os = "linux")]
            iovs: Vec::new().into_boxed_slice(),
            #[cfg(target_os = "linux")]
            hdrs: Vec::new().into_boxed_slice(),
        };
        #[cfg(target_os = "linux")]
        d.link();
        d
    }

    /// Points each header at its slot's two parts. The boxes never move or grow, so the
    /// pointers stay valid as long as `self` lives (moving `self` moves only the boxes' pointers).
    #[cfg(target_os = "linux")]
    fn link(&mut self) {
        let (heads, tails) = (self.heads.as_mut_ptr(), self.tails.as_mut_ptr());
        // SAFETY: every pointer stays within its buffer: slot i's head is [i*HEAD, (i+1)*HEAD)
        // of `heads`, its tail [i*TAIL, (i+1)*TAIL) of `tails`. All-zero iovecs and headers are
        // valid values (null pointers, zero lengths).
        self.iovs = (0..SLOTS)
            .map(|i| unsafe {
                [
                    libc::iovec { iov_base: heads.add(i * HEAD).cast(), iov_len: HEAD },
                    libc::iovec { iov_base: tails.add(i * TAIL).cast(), iov_len: TAIL },
                ]
            })
            .collect();
        let mut hdrs: Box<[libc::mmsghdr]> = (0..SLOTS).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (hdr, iov) in hdrs.iter_mut().zip(self.iovs.iter_mut()) {
            hdr.msg_hdr.msg_iov = iov.as_mut_ptr();
            hdr.msg_hdr.msg_iovlen = 2;
        }
        self.hdrs = hdrs;
    }

    /// The `i`th datagram of the last [`Datagrams::recv`]: its head, and the rest when it
    /// was longer than the head (empty otherwise).
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let len = self.lens[i];
        let head = &self.heads[i * HEAD..i * HEAD + len.min(HEAD)];
        let tail = &self.tails[i * TAIL..i * TAIL + len.saturating_sub(HEAD)];
        (head, tail)
    }

    /// Receives up to [`SLOTS`] datagrams. With `wait`, blocks for the first one (within the
    /// socket's read timeout, then `WouldBlock`/`TimedOut`); without, takes only what is queued.
    #[cfg(target_os = "linux")]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let flags = if wait { libc::MSG_WAITFORONE } else { libc::MSG_DONTWAIT };
        // SAFETY: `hdrs` holds SLOTS headers made by `link`, pointing at live buffers; the
        // kernel writes only the buffers, `msg_len` and `msg_flags`. A null timeout means none.
        let n = unsafe {
            libc::recvmmsg(socket.as_raw_fd(), self.hdrs.as_mut_ptr(), SLOTS as _, flags as _, std::ptr::null_mut())
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        for (len, hdr) in self.lens.iter_mut().zip(&self.hdrs[..n]) {
            *len = hdr.msg_len as usize;
        }
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    pub fn recv(&mut self, socket: &UdpSocket, wait: bool) -> std::io::Result<usize> {
        if !wait {
            return Ok(0);
        }
        let mut buf = vec![0; HEAD + TAIL];
        let (n, _) = socket.recv_from(&mut buf)?;
        self.heads[..n.min(HEAD)].copy_from_slice(&buf[..n.min(HEAD)]);
        self.tails[..n.saturating_sub(HEAD)].copy_from_slice(&buf[HEAD.min(n)..n]);
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
            let payload = match i {
                3 => big.clone(),
                4 => vec![b'y'; HEAD],
                5 => vec![b'z'; HEAD + 1],
                _ => format!("m{i}:1|c").into_bytes(),
            };
            sender.send_to(&payload, socket.local_addr().unwrap()).unwrap();
        }
        let mut d = Datagrams::new();
        let first = d.recv(&socket, true).unwrap();
        assert!((1..=SLOTS).contains(&first));
        let whole = |d: &Datagrams, i| [d.get(i).0, d.get(i).1].concat();
        let mut got: Vec<Vec<u8>> = (0..first).map(|i| whole(&d, i)).collect();
        while got.len() < 70 {
            let n = d.recv(&socket, true).unwrap();
            got.extend((0..n).map(|i| whole(&d, i)));
        }
        assert_eq!(got[0], b"m0:1|c");
        assert_eq!(got[3], big);
        assert_eq!(got[4], vec![b'y'; HEAD]);
        assert_eq!(got[5], vec![b'z'; HEAD + 1]);
        assert_eq!(got[69], b"m69:1|c");
        assert!(matches!(d.recv(&socket, false), Ok(0) | Err(_)), "nothing left");
    }
}
