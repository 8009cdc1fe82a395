//! Debian's busybox-static (a program nobody here wrote): applets with files and stdin
//! must print exactly what they print natively. Skipped when /usr/bin/busybox is absent
//! or not a static binary.

use std::path::Path;

use crate::harness::*;

const INPUT: &[u8] = b"banana 3\napple 10\ncherry 7\napple 2\ndate 5\n";

/// `printf 'banana 3\napple 10\n' | gzip -c` (busybox 1.35).
const GZIPPED: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0x4a, 0xcc, 0x03, 0x42, 0x05,
    0x63, 0xae, 0xc4, 0x82, 0x82, 0x9c, 0x54, 0x05, 0x43, 0x03, 0x2e, 0x00, 0x9e, 0xb6, 0x35, 0x26,
    0x12, 0x00, 0x00, 0x00,
];

fn busybox() -> Option<Vec<u8>> {
    let bytes = std::fs::read("/usr/bin/busybox").ok()?;
    // A dynamic busybox has PT_INTERP ("/lib64/ld-linux..."): not runnable here.
    if bytes.windows(12).any(|w| w == b"/lib64/ld-li") {
        eprintln!("skipped: /usr/bin/busybox is dynamically linked");
        return None;
    }
    Some(bytes)
}

/// Runs applet `args[0]` natively (in `dir`, which holds input.txt) and under lockstep.
fn applet(dir: &Path, program: &[u8], args: &[&str], stdin: &[u8]) {
    let native = run_native_with(
        Path::new("/usr/bin/busybox"),
        args[0],
        &args[1..],
        &[("LANG", "C")],
        dir,
        stdin,
    );
    let files: &[(&str, &[u8])] = &[("input.txt", INPUT)];
    // As `lockstep run --argv0 APPLET /bin/busybox` does it: busybox at /bin/busybox,
    // /init linked to it, the applet name in argv[0].
    let guest = run_guest_with(
        "busybox",
        program,
        args,
        &[("LANG", "C")],
        boot_info(3),
        Inputs { files, stdin },
    );
    assert_eq!(
        String::from_utf8_lossy(&guest.outcome.stdout),
        String::from_utf8_lossy(&native.stdout),
        "{args:?}: exit {:?}\nkernel log:\n{}\nstderr: {}",
        guest.exit,
        guest.log,
        String::from_utf8_lossy(&guest.stderr)
    );
    assert_eq!(
        guest.outcome.status, native.status,
        "{args:?}: {}",
        guest.log
    );
}

#[test]
fn busybox_applets_match_native() {
    let Some(program) = busybox() else {
        eprintln!("skipped: no /usr/bin/busybox");
        return;
    };
    let dir = scratch("busybox");
    std::fs::write(dir.join("input.txt"), INPUT).unwrap();
    let cases: &[(&[&str], &[u8])] = &[
        (&["echo", "hello", "world"], b""),
        (&["cat", "input.txt"], b""),
        (&["wc", "input.txt"], b""),
        (&["sort", "input.txt"], b""),
        (&["sort", "-k2", "-n", "input.txt"], b""),
        (&["sha256sum", "input.txt"], b""),
        (&["md5sum", "input.txt"], b""),
        (&["head", "-n", "2", "input.txt"], b""),
        (&["tail", "-n", "2", "input.txt"], b""),
        (&["tr", "a-z", "A-Z"], b"shout this\n"),
        (&["cut", "-d", " ", "-f", "2", "input.txt"], b""),
        (&["grep", "-n", "apple", "input.txt"], b""),
        (&["grep", "-c", "zzz", "input.txt"], b""),
        (&["sed", "s/a/A/g", "input.txt"], b""),
        (
            &["awk", "{ s += $2 } END { print s, NR }", "input.txt"],
            b"",
        ),
        (&["od", "-c", "input.txt"], b""),
        (&["expr", "6", "*", "7"], b""),
        (&["seq", "3", "12"], b""),
        (&["uniq", "-c"], b"a\na\nb\n"),
        (&["printf", "%05d|%s\\n", "42", "x"], b""),
        (&["basename", "/a/b/c.txt", ".txt"], b""),
        (&["true"], b""),
        (&["false"], b""),
        (&["gzip", "-c"], INPUT),
        (&["gunzip", "-c"], GZIPPED),
        (&["date", "-u", "-d", "@1700000000"], b""),
        (
            &[
                "sh",
                "-c",
                "echo $((6*7)); x=5; echo \"x=$x\"; for i in 1 2 3; do echo $i; done",
            ],
            b"",
        ),
        (&["rev"], b"abc\ndef\n"),
        (&["nl", "input.txt"], b""),
        (&["fold", "-w", "5", "input.txt"], b""),
        (&["sha1sum"], INPUT),
        (
            &["dd", "if=input.txt", "bs=4", "count=3", "status=none"],
            b"",
        ),
        (&["cat", "missing.txt"], b""),
        (&["ls", "missing-dir"], b""),
    ];
    for (args, stdin) in cases {
        applet(&dir, &program, args, stdin);
    }
}
