//! The options of `lockstep run` (clap) and their value parsers. Every value
//! is validated here, so a bad one is a usage error (exit status 2, clap's
//! own message), never a failure later in the run.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{Args, ValueEnum};
use emu_abi::boot::VsyscallMode;

/// Largest guest RAM the machine accepts (emu-core's limit): 64 GiB.
pub const MAX_MEMORY: u64 = 64 << 30;
/// The environment a program gets unless `--clear-env` is given, in this
/// order (sorted by name, as a host shell started with `env -i` and these
/// variables, or Rust's `Command`, would pass them).
pub const DEFAULT_ENV: [(&str, &str); 4] = [
    ("HOME", "/"),
    ("LANG", "C"),
    ("PATH", "/bin"),
    ("TERM", "dumb"),
];

/// The long description of `lockstep run` (`--help`).
pub const RUN_LONG_ABOUT: &str = "\
Run a static Linux x86-64 program inside lockstep's emulated machine.

The program is packed, with the files you name, into an initramfs; lockstep
boots its own guest kernel on the emulated CPU and the kernel runs the
program. The program's stdout, stderr and stdin are lockstep's own. The run
is deterministic: it sees nothing of the host but its inputs (program,
arguments, environment, files, seed, epoch and options), so the same inputs
give the same output bytes, addresses, clock readings and instruction count
on every run and every machine.

The guest's file system: the program at /bin/NAME (NAME is its file name),
/init (a symbolic link to it: the path the kernel executes), the empty
directories /dev, /proc and /tmp, and the files of --file and --dir. The
program starts in /, so a relative guest path is relative to /.

A PROGRAM containing a '/' is a host path; a bare NAME is a file in the
current directory if there is one, else it is searched in the host's PATH.
Only static x86-64 ELF executables (ET_EXEC or static-pie) run; lockstep
checks this before booting.";

/// Environment, examples and exit statuses (`--help`).
pub const RUN_AFTER_LONG_HELP: &str = "\
Default environment (replaced by --clear-env, extended or overridden by --env):
  HOME=/  LANG=C  PATH=/bin  TERM=dumb

Examples:
  lockstep run ./hello
  lockstep run --seed 7 --epoch 2000-01-01T00:00:00Z ./prog --its-own-flag
  lockstep run --file data.txt ./wc -l data.txt
  lockstep run --dir testdata:/data --env LC_ALL=C ./sort /data/in.txt
  lockstep run --argv0 sha256sum --file big.bin /bin/busybox big.bin
  lockstep run --trace trace.txt --max-instructions 1000000 ./prog
  lockstep run -v --memory 2G ./prog
  lockstep run --gdb 1234 ./prog     (then: gdb ./prog -ex 'target remote :1234')

Exit status:
  N        the program exited with status N
  128+N    the program was killed by signal N (a one-line report on stderr);
           137 (128+SIGKILL) also when gdb kills it
  124      --max-instructions stopped the run
  125      the emulator failed (kernel panic, machine fault, I/O error)
  126      PROGRAM cannot be executed (not an ELF file, 32-bit, not x86-64,
           dynamically linked, corrupt headers, a directory)
  127      PROGRAM was not found
  2        usage error (bad option or value, missing --file/--dir source)";

/// `lockstep run [OPTIONS] PROGRAM [ARGS...]` (its help texts are set on the
/// subcommand in main.rs: [`RUN_LONG_ABOUT`], [`RUN_AFTER_LONG_HELP`]).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Seed of all guest-visible randomness (ASLR, AT_RANDOM, getrandom,
    /// /dev/urandom); decimal or 0x-prefixed hex.
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_u64)]
    pub seed: u64,

    /// Guest RAM: bytes, or a number with a K, M or G suffix (binary units,
    /// optional "iB"); a multiple of 4 KiB, at most 64G.
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = parse_memory)]
    pub memory: u64,

    /// Set K=V in the program's environment (repeatable; overrides a
    /// default of the same name, in its place).
    #[arg(long = "env", value_name = "K=V", value_parser = OsStringValueParser::new().try_map(parse_env))]
    pub env: Vec<(Vec<u8>, Vec<u8>)>,

    /// Start from an empty environment instead of the default one.
    #[arg(long)]
    pub clear_env: bool,

    /// Copy the host file HOST into the guest at GUEST (default: the same
    /// path; a relative path is relative to /). Repeatable.
    #[arg(long, value_name = "HOST[:GUEST]", value_parser = OsStringValueParser::new().try_map(parse_mapping))]
    pub file: Vec<Mapping>,

    /// Copy the host directory tree HOST into the guest at GUEST (default:
    /// the same path): files with their permission bits, directories and
    /// symbolic links, in sorted order. Repeatable.
    #[arg(long, value_name = "HOST[:GUEST]", value_parser = OsStringValueParser::new().try_map(parse_mapping))]
    pub dir: Vec<Mapping>,

    /// Stop after N instructions, the kernel's included (exit status 124).
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub max_instructions: Option<u64>,

    /// Wall-clock time at boot: seconds since 1970-01-01T00:00:00Z, or a
    /// UTC time written YYYY-MM-DDTHH:MM:SSZ.
    #[arg(long, value_name = "SECONDS", default_value = "2024-01-01T00:00:00Z", value_parser = parse_epoch)]
    pub epoch: i64,

    /// The legacy vsyscall page at 0xffffffffff600000 (xonly is Linux's
    /// default since 5.3, and the host's).
    #[arg(long, value_name = "MODE", default_value = "xonly")]
    pub vsyscall: VsyscallArg,

    /// Turn off address-space layout randomization (the layout is
    /// deterministic either way: randomized from --seed).
    #[arg(long)]
    pub no_aslr: bool,

    /// Wait for gdb on ADDR (IP:PORT, or a port on 127.0.0.1; port 0 picks a
    /// free one, printed on stderr) with the machine stopped before its
    /// first instruction (the kernel's entry); then `target remote ADDR` in
    /// gdb. Detaching lets the run go on; gdb's kill ends it with 137.
    #[arg(long, value_name = "ADDR", value_parser = parse_gdb_addr)]
    pub gdb: Option<SocketAddr>,

    /// Write one line per executed instruction (address, bytes, disassembly,
    /// changed registers) to FILE, with "--" marker lines where control
    /// passes between user and kernel (syscall, exception, interrupt, return)
    /// or jumps without a branch (an exception or interrupt). Slow.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Show the guest kernel's log on stderr (it does not change the run).
    #[arg(short, long)]
    pub verbose: bool,

    /// Save the guest kernel's log to FILE.
    #[arg(long, value_name = "FILE")]
    pub kernel_log: Option<PathBuf>,

    /// The program's `argv[0]` (default: its guest path, /bin/NAME); busybox
    /// picks its applet from it.
    #[arg(long, value_name = "NAME")]
    pub argv0: Option<OsString>,

    /// The program, then its arguments: everything after PROGRAM is passed to
    /// it, options included (use -- before a PROGRAM that starts with -).
    #[arg(
        value_names = ["PROGRAM", "ARGS"],
        num_args = 1..,
        required = true,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// `--vsyscall` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VsyscallArg {
    /// Executable page.
    Native,
    /// Readable page; calls are emulated.
    Emulate,
    /// Calls are emulated, reads fault.
    Xonly,
    /// No page.
    None,
}

impl From<VsyscallArg> for VsyscallMode {
    fn from(v: VsyscallArg) -> Self {
        match v {
            VsyscallArg::Native => VsyscallMode::Native,
            VsyscallArg::Emulate => VsyscallMode::Emulate,
            VsyscallArg::Xonly => VsyscallMode::Xonly,
            VsyscallArg::None => VsyscallMode::None,
        }
    }
}

/// A `--file`/`--dir` value: a host path and where it goes in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The host path.
    pub host: PathBuf,
    /// The guest path, as given (the initramfs writer normalizes it).
    pub guest: Vec<u8>,
}

/// Parses an unsigned integer: decimal, or hex with `0x`; `_` separators allowed.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    let parsed = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse::<u64>(),
    };
    parsed.map_err(|_| format!("expected a non-negative integer (decimal or 0x hex), got {s:?}"))
}

/// Parses a RAM size (`512M`, `2G`, `1GiB`, `65536`).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown size suffix {suffix:?} (use K, M or G)")),
    };
    let bytes = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("expected a size such as 512M or 2G, got {s:?}"))?;
    if bytes == 0 || bytes % 4096 != 0 {
        return Err(format!("{s} is not a non-zero multiple of 4 KiB"));
    }
    if bytes > MAX_MEMORY {
        return Err(format!("{s} is more than the 64G maximum"));
    }
    Ok(bytes)
}

/// Parses `K=V` (the value may be empty and may contain `=`).
pub fn parse_env(s: OsString) -> Result<(Vec<u8>, Vec<u8>), String> {
    let bytes = s.into_vec();
    let Some(eq) = bytes.iter().position(|&b| b == b'=') else {
        return Err("expected K=V".into());
    };
    if eq == 0 {
        return Err("the variable name before '=' is empty".into());
    }
    Ok((bytes[..eq].to_vec(), bytes[eq + 1..].to_vec()))
}

/// Parses `HOST[:GUEST]` (split at the first ':'). Without GUEST the guest
/// path is the host path as written, which must not contain `..`.
pub fn parse_mapping(s: OsString) -> Result<Mapping, String> {
    let bytes = s.into_vec();
    let (host, guest) = match bytes.iter().position(|&b| b == b':') {
        Some(colon) => (&bytes[..colon], bytes[colon + 1..].to_vec()),
        None => (&bytes[..], bytes.clone()),
    };
    if host.is_empty() {
        return Err("the host path before ':' is empty".into());
    }
    if guest.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err("the guest path must not contain '..' (write HOST:GUEST)".into());
    }
    if guest
        .split(|&b| b == b'/')
        .all(|c| c.is_empty() || c == b".")
    {
        return Err("the guest path must name something below /".into());
    }
    Ok(Mapping {
        host: PathBuf::from(OsStr::from_bytes(host)),
        guest,
    })
}

/// Parses `--epoch`: integer seconds, or `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_epoch(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(secs);
    }
    parse_utc(s).ok_or_else(|| {
        format!("expected seconds since 1970 or a time like 2024-01-01T00:00:00Z, got {s:?}")
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` to seconds since the Unix epoch (proleptic
/// Gregorian calendar, no leap seconds, as POSIX time counts).
fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[(month - 1) as usize]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days from 1970-01-01 to the given date (Howard Hinnant's `days_from_civil`
/// algorithm: eras of 400 years starting in March).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses `--gdb`: `IP:PORT`, `:PORT` or `PORT` (the last two on 127.0.0.1).
pub fn parse_gdb_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = s.strip_prefix(':').unwrap_or(s);
    port.parse::<u16>()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        .map_err(|_| format!("expected IP:PORT or PORT, got {s:?}"))
}

impl RunArgs {
    /// The program's environment: the defaults (unless `--clear-env`), then
    /// each `--env` in order, replacing a variable of the same name in place.
    pub fn environment(&self) -> Vec<Vec<u8>> {
        let mut vars: Vec<(Vec<u8>, Vec<u8>)> = if self.clear_env {
            Vec::new()
        } else {
            DEFAULT_ENV
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        };
        for (k, v) in &self.env {
            match vars.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1.clone_from(v),
                None => vars.push((k.clone(), v.clone())),
            }
        }
        vars.into_iter()
            .map(|(mut k, v)| {
                k.push(b'=');
                k.extend_from_slice(&v);
                k
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The documented default of --memory: 512 MiB.
    const DEFAULT_MEMORY: u64 = 512 << 20;
    /// The documented default of --epoch: 2024-01-01T00:00:00Z.
    const DEFAULT_EPOCH: i64 = 1_704_067_200;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|w| w.run)
    }

    #[test]
    fn memory_sizes_use_binary_units_and_page_granularity() {
        assert_eq!(parse_memory("512M"), Ok(512 << 20));
        assert_eq!(parse_memory("2G"), Ok(2 << 30));
        assert_eq!(parse_memory("1GiB"), Ok(1 << 30));
        assert_eq!(parse_memory("64k"), Ok(64 << 10));
        assert_eq!(parse_memory("8192"), Ok(8192));
        assert_eq!(parse_memory("64G"), Ok(MAX_MEMORY));
        for bad in [
            "",
            "0",
            "12Q",
            "1000",
            "65G",
            "M",
            "-1M",
            "99999999999999999999G",
        ] {
            assert!(parse_memory(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epoch_accepts_seconds_and_utc_times() {
        assert_eq!(parse_epoch("2024-01-01T00:00:00Z"), Ok(DEFAULT_EPOCH));
        assert_eq!(parse_epoch("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_epoch("2000-03-01T12:34:56Z"), Ok(951_914_096));
        assert_eq!(parse_epoch("1969-12-31T23:59:59Z"), Ok(-1));
        assert_eq!(parse_epoch("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        assert_eq!(parse_epoch("-5"), Ok(-5));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00",
            "2024-01-01T24:00:00Z",
            "yesterday",
            "+1-01-01T00:00:00Z",
        ] {
            assert!(parse_epoch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_and_mappings_split_where_documented() {
        let env = |s: &str| parse_env(s.into());
        assert_eq!(env("A=b=c"), Ok((b"A".to_vec(), b"b=c".to_vec())));
        assert_eq!(env("A="), Ok((b"A".to_vec(), Vec::new())));
        assert!(env("A").is_err());
        assert!(env("=x").is_err());

        let map = |s: &str| parse_mapping(s.into());
        assert_eq!(
            map("data/in.txt"),
            Ok(Mapping {
                host: "data/in.txt".into(),
                guest: b"data/in.txt".to_vec()
            })
        );
        assert_eq!(
            map("../x:/y/z"),
            Ok(Mapping {
                host: "../x".into(),
                guest: b"/y/z".to_vec()
            })
        );
        for bad in ["../x", ":/y", "x:", "x:/", "x:/a/../b", "/"] {
            assert!(map(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_gdb_addresses_parse() {
        assert_eq!(parse_u64("0x10"), Ok(16));
        assert_eq!(parse_u64("1_000_000"), Ok(1_000_000));
        assert!(parse_u64("-1").is_err());
        assert_eq!(parse_gdb_addr("1234"), Ok(([127, 0, 0, 1], 1234).into()));
        assert_eq!(parse_gdb_addr(":1234"), Ok(([127, 0, 0, 1], 1234).into()));
        assert_eq!(parse_gdb_addr("0.0.0.0:9"), Ok(([0, 0, 0, 0], 9).into()));
        assert!(parse_gdb_addr("localhost:x").is_err());
    }

    #[test]
    fn everything_after_program_belongs_to_the_program() {
        let run = parse(&["--seed", "3", "prog", "--seed", "4", "-v"]).unwrap();
        assert_eq!(run.seed, 3);
        assert!(!run.verbose);
        assert_eq!(run.command, ["prog", "--seed", "4", "-v"]);
        let run = parse(&["prog", "-x", "--", "y"]).unwrap();
        assert_eq!(run.command, ["prog", "-x", "--", "y"]);
        let run = parse(&["--", "-prog", "x"]).unwrap();
        assert_eq!(run.command, ["-prog", "x"]);
        assert!(parse(&[]).is_err());
        assert!(parse(&["--bogus", "prog"]).is_err());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let run = parse(&["prog"]).unwrap();
        assert_eq!(run.memory, DEFAULT_MEMORY);
        assert_eq!(run.epoch, DEFAULT_EPOCH);
        assert_eq!(run.vsyscall, VsyscallArg::Xonly);
        assert_eq!(run.seed, 0);
        assert!(!run.no_aslr && run.max_instructions.is_none());
        let env: Vec<String> = run
            .environment()
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect();
        assert_eq!(env, ["HOME=/", "LANG=C", "PATH=/bin", "TERM=dumb"]);
    }

    #[test]
    fn env_overrides_in_place_and_clear_env_starts_empty() {
        let run = parse(&["--env", "HOME=/root", "--env", "X=1", "prog"]).unwrap();
        let env = run.environment();
        assert_eq!(env[0], b"HOME=/root");
        assert_eq!(env[4], b"X=1");
        let run = parse(&["--clear-env", "--env", "X=1", "--env", "X=2", "prog"]).unwrap();
        assert_eq!(run.environment(), [b"X=2".to_vec()]);
    }
}
