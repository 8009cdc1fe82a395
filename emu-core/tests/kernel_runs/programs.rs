//! The programs: each is compiled, run natively and under lockstep, and compared.

use emu_abi::ports::DebugExit;
use emu_core::{MachineExit, RunLimit};

use crate::harness::*;

const ENV: &[(&str, &str)] = &[("HOME", "/"), ("LANG", "C")];

const HELLO: &str = r#"
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello, world: %d args:", argc);
    for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 3;
}
"#;

#[test]
fn glibc_static_hello_matches_native() {
    let dir = scratch("hello");
    let Some(exe) = compile(&dir, "hello", HELLO, &["-static"]) else {
        return;
    };
    let run = same_as_native(&dir, "hello", &exe, &["one", "two words"], ENV);
    eprintln!("hello: {} instructions", run.instructions);
}

#[test]
fn glibc_static_pie_hello_matches_native() {
    let dir = scratch("hello-pie");
    let Some(exe) = compile(&dir, "hello_pie", HELLO, &["-static-pie", "-fPIE"]) else {
        return;
    };
    same_as_native(&dir, "hello_pie", &exe, &["x"], ENV);
}

#[test]
fn boot_to_the_first_user_instruction_is_deterministic_and_counted() {
    let dir = scratch("boot-count");
    let Some(exe) = compile(&dir, "hello", HELLO, &["-static"]) else {
        return;
    };
    let program = std::fs::read(&exe).unwrap();
    let entry = u64::from_le_bytes(program[24..32].try_into().unwrap());
    let mut counts = Vec::new();
    for _ in 0..2 {
        let (mut m, _, _, log) = boot("hello", &program, &["hello"], ENV, boot_info(7));
        let exit = m.cpu_mut().run(RunLimit {
            max_instructions: 50_000_000,
            stop_at: Some(entry),
        });
        assert_eq!(
            exit,
            emu_core::Exit::StopAddress,
            "kernel log: {}",
            log.text()
        );
        counts.push(m.cpu().instructions_retired());
    }
    eprintln!(
        "boot to the first user instruction: {} instructions",
        counts[0]
    );
    assert_eq!(counts[0], counts[1]);
}

#[test]
fn a_corrupt_program_exits_126_with_a_log_line() {
    let run = run_guest("prog", b"\x7fELF", &["prog"], ENV, boot_info(1));
    assert_eq!(run.exit, MachineExit::Guest(DebugExit::Exited(126)));
    assert!(
        run.log.contains("cannot execute prog: ENOEXEC"),
        "{}",
        run.log
    );
}

const FILES: &str = r#"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

int main(void) {
    char buf[64];
    mkdir("work", 0755);
    if (chdir("work") != 0) { perror("chdir"); return 1; }
    int fd = open("t.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("open %d\n", fd >= 0);
    printf("write %zd\n", write(fd, "hello, file\n", 12));
    printf("lseek %ld\n", (long)lseek(fd, 7, SEEK_SET));
    memset(buf, 0, sizeof buf);
    printf("read %zd [%s]\n", read(fd, buf, sizeof buf - 1), buf);
    printf("pwrite %zd\n", pwrite(fd, "XY", 2, 20));
    struct stat st;
    fstat(fd, &st);
    printf("size %ld reg %d mode %o\n", (long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
    close(fd);
    printf("rename %d\n", rename("t.txt", "u.txt"));
    printf("stat old %d errno %d\n", stat("t.txt", &st), errno);
    FILE *f = fopen("u.txt", "r");
    printf("fgets [%s]", fgets(buf, sizeof buf, f));
    fclose(f);
    mkdir("sub", 0700);
    symlink("u.txt", "link");
    char target[64] = {0};
    printf("readlink %zd [%s]\n", readlink("link", target, sizeof target), target);
    printf("rmdir nonempty? %d\n", rmdir("."));
    DIR *d = opendir(".");
    char *names[16]; int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    for (int i = 0; i < n; i++) printf("entry %s\n", names[i]);
    printf("unlink %d %d %d\n", unlink("u.txt"), unlink("link"), rmdir("sub"));
    printf("unlink missing %d errno %d\n", unlink("nope"), errno);
    printf("open dir for write %d errno %d\n", open(".", O_WRONLY), errno);
    char cwd[256];
    printf("getcwd ends with work: %d\n", strcmp(strrchr(getcwd(cwd, sizeof cwd), '/'), "/work") == 0);
    chdir("..");
    printf("rmdir work %d\n", rmdir("work"));
    return 0;
}
"#;

#[test]
fn file_syscalls_match_native() {
    let dir = scratch("files");
    let Some(exe) = compile(&dir, "files", FILES, &["-static"]) else {
        return;
    };
    same_as_native(&dir, "files", &exe, &[], ENV);
}

const MALLOC: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    unsigned long seed = 12345, sum = 0;
    void *slots[256] = {0};
    size_t sizes[256] = {0};
    for (int round = 0; round < 20000; round++) {
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        int i = (seed >> 33) % 256;
        size_t size = (seed >> 16) % 4096;
        if ((seed >> 60) == 0) size = 200000 + (seed >> 20) % 300000;   /* mmap'ed chunks */
        if (slots[i]) {
            for (size_t j = 0; j < sizes[i]; j += 97) sum += ((unsigned char *)slots[i])[j];
            if ((seed >> 8) & 1) { free(slots[i]); slots[i] = 0; continue; }
            slots[i] = realloc(slots[i], size + 1);
        } else {
            slots[i] = malloc(size + 1);
        }
        sizes[i] = size + 1;
        memset(slots[i], (int)(seed & 0xff), sizes[i]);
    }
    char *big = calloc(1, 64 << 20);
    for (int i = 0; i < (64 << 20); i += 4096) sum += big[i];
    big = realloc(big, 96 << 20);
    big[(96 << 20) - 1] = 7;
    sum += big[(96 << 20) - 1];
    free(big);
    printf("checksum %lu\n", sum);
    return 0;
}
"#;

#[test]
fn malloc_churn_with_brk_mmap_and_mremap_matches_native() {
    let dir = scratch("malloc");
    let Some(exe) = compile(&dir, "malloc", MALLOC, &["-static"]) else {
        return;
    };
    let run = same_as_native(&dir, "malloc", &exe, &[], ENV);
    eprintln!("malloc: {} instructions", run.instructions);
}

const NUMBERS: &str = r#"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    double v[1000];
    unsigned long s = 42;
    for (int i = 0; i < 1000; i++) {
        s = s * 6364136223846793005UL + 1442695040888963407UL;
        v[i] = (double)(s >> 11) / (double)(1UL << 53) * 2000.0 - 1000.0;
    }
    qsort(v, 1000, sizeof v[0], cmp);
    printf("%.17g %.17g %.17g\n", v[0], v[500], v[999]);
    printf("%e %g %a %f\n", 1.0 / 3.0, 1e-300 * 1e-10, 0.1, 2.5e10);
    long double x = 1.0L / 3.0L;
    printf("%.21Lg %La\n", x, x);
    printf("%.17g %.17g %.17g\n", sqrt(2.0), strtod("1e308", 0) * 10, strtod("0x1.8p3", 0));
    printf("%d %ld %lld %u %x %o %s %c %5.2f%%\n", -42, 1L << 40, -1LL, 3000000000U, 0xbeef, 8, "str", 'z', 99.567);
    return 0;
}
"#;

#[test]
fn printf_of_doubles_long_doubles_and_qsort_match_native() {
    let dir = scratch("numbers");
    let Some(exe) = compile(&dir, "numbers", NUMBERS, &["-static", "-lm"]) else {
        return;
    };
    same_as_native(&dir, "numbers", &exe, &[], ENV);
}

const ARGS_ENV: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <string.h>
extern char **environ;
int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    printf("HOME=%s\n", getenv("HOME"));
    printf("pagesz %lu clktck %lu secure %lu\n", getauxval(AT_PAGESZ), getauxval(AT_CLKTCK), getauxval(AT_SECURE));
    unsigned char *r = (unsigned char *)getauxval(AT_RANDOM);
    printf("random present %d platform %s\n", r != 0, (char *)getauxval(AT_PLATFORM));
    return argc;
}
"#;

#[test]
fn arguments_environment_and_auxv_match_native() {
    let dir = scratch("args");
    let Some(exe) = compile(&dir, "args", ARGS_ENV, &["-static"]) else {
        return;
    };
    same_as_native(
        &dir,
        "args",
        &exe,
        &["a", "", "with space", "ünïcode"],
        &[("HOME", "/root"), ("X", "1=2")],
    );
}

const FAULTS: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    printf("before\n");
    fflush(stdout);
    if (!strcmp(argv[1], "segv")) *(volatile int *)16 = 1;
    if (!strcmp(argv[1], "abort")) abort();
    if (!strcmp(argv[1], "ud2")) __asm__ volatile("ud2");
    if (!strcmp(argv[1], "div")) { volatile int n = 7, z = 0; printf("%d\n", n / z); }
    if (!strcmp(argv[1], "exec")) { void (*f)(void) = (void (*)(void))(void *)argv[0]; f(); }
    if (!strcmp(argv[1], "stack")) { volatile char big[1 << 20]; big[0] = 1; big[(1 << 20) - 1] = 2; printf("deep stack ok %d\n", big[0] + big[(1 << 20) - 1]); return 0; }
    if (!strcmp(argv[1], "exit")) exit(42);
    return 0;
}
"#;

#[test]
fn faults_and_signals_end_the_run_like_native() {
    let dir = scratch("faults");
    let Some(exe) = compile(&dir, "faults", FAULTS, &["-static"]) else {
        return;
    };
    for case in ["segv", "abort", "ud2", "div", "exec", "stack", "exit"] {
        let run = same_as_native(&dir, "faults", &exe, &[case], ENV);
        eprintln!("{case}: {:?}", run.exit);
    }
}

#[test]
fn a_large_stdout_arrives_whole() {
    let dir = scratch("bigout");
    let src = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[1 << 20];
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = 'a' + i % 26;
    for (int i = 0; i < 16; i++) if (write(1, buf, sizeof buf) != sizeof buf) return 1;
    return 0;
}
"#;
    let Some(exe) = compile(&dir, "bigout", src, &["-static"]) else {
        return;
    };
    let run = same_as_native(&dir, "bigout", &exe, &[], ENV);
    assert_eq!(run.outcome.stdout.len(), 16 << 20);
}

#[test]
fn runs_are_deterministic_and_the_seed_moves_the_layout() {
    let dir = scratch("determinism");
    let src = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
int main(int argc, char **argv) {
    unsigned long r;
    getrandom(&r, sizeof r, 0);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    printf("stack %p heap %p random %lx time %ld.%09ld\n", (void *)&r, malloc(1), r, (long)t.tv_sec, t.tv_nsec);
    return 0;
}
"#;
    let Some(exe) = compile(&dir, "det", src, &["-static"]) else {
        return;
    };
    let program = std::fs::read(&exe).unwrap();
    let a = run_guest("det", &program, &["det"], ENV, boot_info(5));
    let b = run_guest("det", &program, &["det"], ENV, boot_info(5));
    let c = run_guest("det", &program, &["det"], ENV, boot_info(6));
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.instructions, b.instructions);
    assert_ne!(a.outcome.stdout, c.outcome.stdout);
    let text = String::from_utf8_lossy(&a.outcome.stdout);
    assert!(text.contains("time 1700000000."), "{text}");
}

const RUST_STD: &str = r#"
use std::collections::HashMap;
use std::io::Write;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in args.concat().chars() {
        *counts.entry(c).or_default() += 1;
    }
    let mut keys: Vec<_> = counts.into_iter().collect();
    keys.sort();
    println!("args {:?} letters {:?}", args, keys);
    let path = std::env::temp_dir().join(format!("lockstep-rs-{}", std::process::id()));
    std::fs::write(&path, b"data").unwrap();
    println!("read back {:?}", std::fs::read_to_string(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let v: Vec<u64> = (0..100_000).map(|x| x * x % 1000).collect();
    println!("sum {} max {:?}", v.iter().sum::<u64>(), v.iter().max());
    println!("{:.3} {:e}", std::f64::consts::PI, 6.02e23f64);
    std::io::stdout().flush().unwrap();
    std::process::exit(5);
}
"#;

#[test]
fn rust_std_static_program_matches_native() {
    let dir = scratch("rust-std");
    let src = dir.join("rs.rs");
    std::fs::write(&src, RUST_STD).unwrap();
    let exe = dir.join("rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let built = std::process::Command::new(rustc)
        .args([
            "-O",
            "-C",
            "target-feature=+crt-static",
            "--edition",
            "2021",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status();
    if !matches!(built, Ok(s) if s.success()) {
        eprintln!("skipped: rustc could not build a static program ({built:?})");
        return;
    }
    same_as_native(&dir, "rs", &exe, &["x", "yy"], ENV);
}

const SLEEP: &str = r#"
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static double now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
int main(void) {
    double m0 = now(CLOCK_MONOTONIC), r0 = now(CLOCK_REALTIME);
    struct timespec req = {1, 500000000};
    int rc = nanosleep(&req, 0);
    double m1 = now(CLOCK_MONOTONIC), r1 = now(CLOCK_REALTIME);
    printf("nanosleep %d slept %d\n", rc, m1 - m0 >= 1.5 && m1 - m0 < 1.7 && r1 - r0 >= 1.5);
    usleep(200000);
    poll(0, 0, 300);
    double m2 = now(CLOCK_MONOTONIC);
    printf("usleep+poll %d\n", m2 - m1 >= 0.5 && m2 - m1 < 0.7);
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_sec += 1;
    printf("abstime %d\n", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, 0));
    printf("after %d\n", now(CLOCK_MONOTONIC) - m2 >= 1.0);
    return 0;
}
"#;

#[test]
fn sleeping_jumps_virtual_time_and_matches_native() {
    let dir = scratch("sleep");
    let Some(exe) = compile(&dir, "sleep", SLEEP, &["-static"]) else {
        return;
    };
    let run = same_as_native(&dir, "sleep", &exe, &[], ENV);
    // Three seconds of sleep cost no instructions: the TSC jumps while halted.
    assert!(
        run.instructions < 2_000_000,
        "{} instructions",
        run.instructions
    );
}

#[test]
fn a_100_mib_input_file_reads_with_the_default_ram() {
    let dir = scratch("bigfile");
    let src = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    static unsigned char buf[1 << 20];
    int fd = open("big.bin", O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    unsigned long sum = 0, total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i += 4096) sum += buf[i];
        total += n;
    }
    printf("size %ld read %lu sum %lu\n", (long)st.st_size, total, sum);
    return 0;
}
"#;
    let Some(exe) = compile(&dir, "bigfile", src, &["-static"]) else {
        return;
    };
    let big: Vec<u8> = (0..100u32 << 20).map(|i| (i / 4096 % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    let native = run_native(&exe, "bigfile", &[], ENV, &dir);
    let program = std::fs::read(&exe).unwrap();
    let files: &[(&str, &[u8])] = &[("big.bin", &big)];
    let guest = run_guest_with(
        "bigfile",
        &program,
        &["bigfile"],
        ENV,
        boot_info(1),
        Inputs { files, stdin: b"" },
    );
    assert_eq!(guest.outcome, native, "{}", guest.log);
    eprintln!("100 MiB read: {} instructions", guest.instructions);
}
