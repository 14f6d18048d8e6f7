use super::*;

#[test]
fn the_spool_is_off_unless_a_directory_is_set_and_its_rules_name_the_key() {
    assert_eq!(load(&[], &[]).unwrap().spool.dir, None);
    let c =
        load(&["--spool-dir", "/data/spool", "--spool-sync", "periodic"], &[("CW_SIDECAR_SPOOL__MAX_BYTES", "64MiB")])
            .unwrap();
    assert_eq!(c.spool.dir.as_deref(), Some(std::path::Path::new("/data/spool")));
    assert_eq!((c.spool.max_bytes, c.spool.sync), (64 << 20, crate::config::SyncPolicy::Periodic));
    let e = load(&["--spool-sync", "sometimes"], &[]).unwrap_err().to_string();
    assert!(e.contains("`spool.sync`") && e.contains("`always` or `periodic`"), "{e}");
    let e = load(&["--spool-max-bytes", "1KiB"], &[]).unwrap_err().to_string();
    assert!(e.contains("`spool.max_bytes`") && e.contains("between 1MiB and 1TiB"), "{e}");
}
