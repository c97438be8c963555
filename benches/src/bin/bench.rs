//! The driver behind `ci/bench`: builds the C contenders, runs the matrix and writes
//! `BENCHMARKS.md` and `benches/chart.svg`.
//!
//! `bench [--quick] [--smoke] [--note TEXT]`
//!
//! - wall time: every cell runs each contender `reps` times, alternating contenders run by run
//!   (the order rotates each round); medians, spread, and paired ratios (the median over rounds of
//!   this round's time over the reference's time in the same round);
//! - instructions per event: callgrind, marginal (two runs of different sizes, the difference in
//!   instructions over the difference in events), two runs at a time on the machine's cores;
//! - syscalls per event: `strace -f -c`, marginal the same way;
//! - allocations per event in steady state (Rust contenders: a counting allocator, second half of
//!   the run) and heap bytes per registered idle event (`mallinfo2`, every contender).
//!
//! `--smoke` only checks that every contender runs each workload once, tiny, and counts the same
//! events (no timing): `ci/test` runs it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// One contender: its name in the tables, its binary, the cells it runs.
#[derive(Clone, Debug)]
struct Contender {
    name: &'static str,
    bin: PathBuf,
    scope: Scope,
    /// The backends besides epoll it can be asked for (`backend=`).
    backends: &'static [&'static str],
}

/// The backends besides epoll that the base contenders select: the `backend=` values.
const BACKENDS: &[&str] = &["changelist", "poll", "select"];

/// The cells a contender runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scope {
    /// Every cell: it has timers.
    All,
    /// The cells without timers.
    NoTimers,
    /// The timer lifecycle only (the timer heap alone).
    Lifecycle,
}

impl Contender {
    /// Whether it runs the chain (every contender but the timer heap alone).
    fn chains(&self) -> bool {
        self.scope != Scope::Lifecycle
    }

    fn runs(&self, cell: &Cell) -> bool {
        let scope = match self.scope {
            Scope::All => true,
            Scope::NoTimers => !cell.needs_timers(),
            Scope::Lifecycle => cell.workload == "timers",
        };
        scope && (cell.backend == "epoll" || self.backends.contains(&cell.backend))
    }
}

/// One cell of the matrix: a workload and its parameters, the size key varied for marginal costs.
#[derive(Clone, Debug)]
struct Cell {
    workload: &'static str,
    n: usize,
    active: usize,
    timeout: &'static str,
    form: &'static str,
    /// The backend (`backend=`), epoll unless a cell of the backends table.
    backend: &'static str,
}

impl Cell {
    fn chain(n: usize, active: usize, timeout: &'static str, form: &'static str) -> Cell {
        Cell {
            workload: "chain",
            n,
            active,
            timeout,
            form,
            backend: "epoll",
        }
    }

    /// The chain, blocking with one byte in flight, on `backend`.
    fn on(backend: &'static str, n: usize) -> Cell {
        Cell {
            backend,
            ..Cell::chain(n, 1, "none", "block")
        }
    }

    fn other(workload: &'static str, n: usize) -> Cell {
        Cell {
            workload,
            n,
            active: 1,
            timeout: "none",
            form: "block",
            backend: "epoll",
        }
    }

    fn needs_timers(&self) -> bool {
        matches!(self.workload, "timers" | "precision") || self.timeout != "none"
    }

    /// The arguments for a run of `size` (events, timers or rounds, by workload).
    fn args(&self, size: u64) -> Vec<String> {
        let mut a = vec![self.workload.to_string()];
        match self.workload {
            "timers" | "precision" => a.push(format!("timers={size}")),
            "setup" => a.extend([format!("n={}", self.n), format!("rounds={size}")]),
            _ => a.extend([
                format!("n={}", self.n),
                format!("active={}", self.active),
                format!("events={size}"),
                format!("timeout={}", self.timeout),
                format!("form={}", self.form),
            ]),
        }
        if self.backend != "epoll" {
            a.push(format!("backend={}", self.backend));
        }
        a
    }

    /// Events (or timers, or add+delete pairs) a run of `size` counts.
    fn units(&self, size: u64) -> u64 {
        match self.workload {
            "setup" => size * self.n as u64,
            _ => size,
        }
    }

    /// The count the contender must report for a run of `size`.
    fn expected(&self, size: u64) -> u64 {
        match self.workload {
            "timers" => size - size.div_ceil(4),
            _ => self.units(size),
        }
    }

    fn label(&self) -> String {
        match self.workload {
            "chain" => format!(
                "chain {} {}, timeout {}",
                self.form, self.active, self.timeout
            ),
            w => w.to_string(),
        }
    }
}

/// A contender's output line, parsed.
type Report = HashMap<String, f64>;

fn run(bin: &Path, args: &[String]) -> Result<Report, String> {
    let out = Command::new(bin)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {}: {}: {}",
            bin.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    Ok(line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect())
}

/// Total user-space instructions of a run, by callgrind.
fn callgrind(bin: &Path, args: &[String]) -> Option<u64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(bin)
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let n = err
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))?
        .trim()
        .parse()
        .ok();
    n.filter(|_| out.status.success())
}

/// Total syscalls of a run, by `strace -f -c`.
fn syscalls(bin: &Path, args: &[String], tmp: &Path) -> Option<u64> {
    let status = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(tmp)
        .arg(bin)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(tmp).ok()?;
    let _ = std::fs::remove_file(tmp);
    let total = text
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))?;
    let calls = total.split_whitespace().nth(3)?.parse().ok();
    calls.filter(|_| status.success())
}

/// Runs `jobs` on `threads` threads; results in the jobs' order.
fn parallel<J: Sync, R: Send>(jobs: &[J], threads: usize, f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = f(job);
                out.lock().expect("results")[i] = Some(r);
            });
        }
    });
    out.into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The plan: which cells, how big, how many rounds.
struct Plan {
    quick: bool,
    reps: usize,
    wall_events: u64,
    wall_cells: Vec<Cell>,
    instr_cells: Vec<Cell>,
    sizes: fn(&Cell, bool) -> (u64, u64),
    sys_cells: Vec<Cell>,
    mem_n: usize,
    /// Firings of the `precision` workload's timer.
    precision_firings: usize,
    ns: Vec<usize>,
}

fn sizes(c: &Cell, quick: bool) -> (u64, u64) {
    if c.backend != "epoll" {
        // poll and select scan every fd per wait: fewer events keep callgrind's runs short.
        return (2_000, 12_000);
    }
    match (c.workload, quick) {
        ("timers", false) => (10_000, 100_000),
        ("timers", true) => (2_000, 10_000),
        ("setup", _) => (2, 12),
        (_, false) => (10_000, 60_000),
        (_, true) => (2_000, 10_000),
    }
}

fn plan(quick: bool) -> Plan {
    // 9900, not 10,000: 10,000 socketpairs need 20,000 fds plus the loop's, over this machine's
    // hard limit of 20,000 open files.
    let ns: Vec<usize> = if quick {
        vec![100, 1000]
    } else {
        vec![100, 1000, 9900]
    };
    let timeouts: &[&str] = if quick {
        &["none", "fixed"]
    } else {
        &["none", "fixed", "random"]
    };
    let actives: &[usize] = if quick { &[1] } else { &[1, 100] };
    let mut wall_cells = Vec::new();
    for form in ["block", "pass"] {
        for &t in timeouts {
            for &n in &ns {
                for &a in actives {
                    wall_cells.push(Cell::chain(n, a, t, form));
                }
            }
        }
    }
    wall_cells.push(Cell::other("cascade", 1000));
    let mut instr_cells = Vec::new();
    for form in ["block", "pass"] {
        for &t in timeouts {
            if !(quick && form == "pass" && t != "none") {
                instr_cells.push(Cell::chain(1000, 1, t, form));
            }
        }
    }
    for &n in ns.iter().filter(|&&n| n != 1000) {
        instr_cells.push(Cell::chain(n, 1, "none", "block"));
        if !quick {
            instr_cells.push(Cell::chain(n, 1, "none", "pass"));
        }
    }
    if !quick {
        for &n in &ns {
            instr_cells.push(Cell::chain(n, 100, "none", "block"));
        }
        instr_cells.push(Cell::chain(1000, 100, "random", "block"));
        instr_cells.push(Cell::other("cascade", 1000));
    }
    instr_cells.push(Cell::other("timers", 0));
    instr_cells.push(Cell::other("setup", 1000));
    for b in BACKENDS {
        for n in [100, 1000] {
            instr_cells.push(Cell::on(b, n));
        }
    }
    let mut sys_cells = vec![
        Cell::chain(1000, 1, "none", "block"),
        Cell::chain(1000, 1, "none", "pass"),
    ];
    if !quick {
        sys_cells.extend([
            Cell::chain(1000, 100, "none", "block"),
            Cell::chain(1000, 1, "fixed", "block"),
            Cell::other("cascade", 1000),
        ]);
    }
    Plan {
        quick,
        reps: if quick { 3 } else { 5 },
        wall_events: if quick { 10_000 } else { 20_000 },
        wall_cells,
        instr_cells,
        sizes,
        sys_cells,
        mem_n: if quick { 1000 } else { 9900 },
        precision_firings: if quick { 200 } else { 1000 },
        ns,
    }
}

/// Builds a C contender with the system `cc`; `None` (and a note) if that fails.
fn build_c(
    root: &Path,
    out_dir: &Path,
    src: &str,
    lib: &str,
    notes: &mut Vec<String>,
) -> Option<PathBuf> {
    let out = out_dir.join(src.trim_end_matches(".c"));
    let status = Command::new("cc")
        .args(["-O2", "-g", "-Wall", "-o"])
        .arg(&out)
        .arg(root.join("benches/c").join(src))
        .arg(lib)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        _ => {
            notes.push(format!(
                "{src} did not build (`cc ... {lib}`): install its -dev package"
            ));
            None
        }
    }
}

fn contenders(root: &Path, notes: &mut Vec<String>) -> Vec<Contender> {
    let dir = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let rust = |name: &'static str, scope, backends| Contender {
        name,
        bin: dir.join(format!("bench_{name}")),
        scope,
        backends,
    };
    let mut v = vec![
        rust("eventop_std", Scope::All, BACKENDS),
        rust("eventop_core", Scope::All, BACKENDS),
        rust("eventop_backend", Scope::NoTimers, &[]),
        rust("eventop_heap", Scope::Lifecycle, &[]),
        rust("raw_epoll", Scope::NoTimers, &[]),
        rust("mio", Scope::NoTimers, &[]),
        rust("polling", Scope::NoTimers, &[]),
    ];
    if let Some(bin) = build_c(root, &dir, "chain_libevent.c", "-levent_core", notes) {
        v.push(Contender {
            name: "libevent",
            bin,
            scope: Scope::All,
            backends: BACKENDS,
        });
    }
    // eventop's own C library, from the very same source: `ci/bench` installs it
    // (`ci/install-c`) and names its prefix in `EVENTOP_C_PREFIX`.
    if let Some(prefix) = std::env::var_os("EVENTOP_C_PREFIX") {
        let p = PathBuf::from(prefix);
        let out = dir.join("chain_eventop_c");
        let ok = Command::new("cc")
            .args(["-O2", "-g", "-Wall", "-o"])
            .arg(&out)
            .arg(root.join("benches/c/chain_libevent.c"))
            .arg(format!("-I{}", p.join("include").display()))
            .arg(format!("-L{}", p.join("lib").display()))
            .arg(format!("-Wl,-rpath,{}", p.join("lib").display()))
            .arg("-leventop")
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            v.push(Contender {
                name: "eventop_c",
                bin: out,
                scope: Scope::All,
                backends: BACKENDS,
            });
        } else {
            notes.push(format!(
                "chain_libevent.c did not build against {}",
                p.display()
            ));
        }
    }
    if let Some(bin) = build_c(root, &dir, "chain_libev.c", "-lev", notes) {
        v.push(Contender {
            name: "libev",
            bin,
            scope: Scope::All,
            backends: &["poll", "select"],
        });
    }
    v
}

/// Every contender runs every workload once, tiny; all must count what was asked.
fn smoke(cs: &[Contender]) -> Result<(), String> {
    let fixed = [
        (Cell::chain(10, 1, "none", "block"), 100),
        (Cell::chain(10, 3, "none", "pass"), 100),
        (Cell::chain(10, 2, "random", "block"), 100),
        (Cell::chain(10, 2, "fixed", "pass"), 100),
        (Cell::other("cascade", 10), 100),
        (Cell::other("timers", 0), 200),
        (Cell::other("setup", 10), 2),
        (Cell::other("precision", 0), 5),
    ];
    let backends = BACKENDS.iter().map(|b| (Cell::on(b, 10), 100));
    let cells: Vec<(Cell, u64)> = fixed.into_iter().chain(backends).collect();
    let mut failures = Vec::new();
    for (cell, size) in &cells {
        for c in cs.iter().filter(|c| c.runs(cell)) {
            let want = cell.expected(*size) as f64;
            match run(&c.bin, &cell.args(*size)) {
                Ok(r) if r.get("events") == Some(&want) => {}
                Ok(r) => failures.push(format!(
                    "{} {}: counted {:?}, want {want}",
                    c.name,
                    cell.args(*size).join(" "),
                    r.get("events")
                )),
                Err(e) => failures.push(e),
            }
        }
    }
    println!(
        "bench smoke: {} contenders, {} workloads: {}",
        cs.len(),
        cells.len(),
        if failures.is_empty() {
            "all agree"
        } else {
            "MISMATCH"
        }
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// Wall time of one cell: per contender, ns per event of each round (in round order).
struct Wall {
    cell: Cell,
    times: Vec<(usize, Vec<f64>)>,
    allocs: HashMap<usize, f64>,
    bad: Vec<String>,
}

fn wall(plan: &Plan, cs: &[Contender]) -> Vec<Wall> {
    let mut out = Vec::new();
    for (k, cell) in plan.wall_cells.iter().enumerate() {
        let idx: Vec<usize> = (0..cs.len()).filter(|&i| cs[i].runs(cell)).collect();
        let size = if cell.n >= 9900 {
            plan.wall_events * 2
        } else {
            plan.wall_events
        };
        let mut times: Vec<(usize, Vec<f64>)> = idx.iter().map(|&i| (i, Vec::new())).collect();
        let mut allocs = HashMap::new();
        let mut bad = Vec::new();
        for r in 0..plan.reps {
            for j in 0..idx.len() {
                let slot = (j + r + k) % idx.len();
                let c = &cs[idx[slot]];
                match run(&c.bin, &cell.args(size)) {
                    Ok(rep) => {
                        let events = rep.get("events").copied().unwrap_or(0.0);
                        if events != cell.expected(size) as f64 || rep.get("timeouts") != Some(&0.0)
                        {
                            bad.push(format!("{}: {rep:?}", c.name));
                        }
                        times[slot].1.push(rep["ns"] / events.max(1.0));
                        let (a, e) = (rep["steady_allocs"], rep["steady_events"]);
                        if a >= 0.0 && e > 0.0 {
                            let v = allocs.entry(idx[slot]).or_insert(0.0f64);
                            *v = v.max(a / e);
                        }
                    }
                    Err(e) => bad.push(e),
                }
            }
        }
        eprint!(".");
        out.push(Wall {
            cell: cell.clone(),
            times,
            allocs,
            bad,
        });
    }
    eprintln!();
    out
}

/// A total count (instructions, syscalls) for one run: binary, arguments, a job number.
type Measure<'a> = dyn Fn(&Path, &[String], usize) -> Option<u64> + Sync + 'a;

/// Marginal cost per unit of (cell, contender): instructions or syscalls.
fn marginal(
    plan: &Plan,
    cs: &[Contender],
    cells: &[Cell],
    threads: usize,
    measure: &Measure<'_>,
) -> HashMap<(String, usize), f64> {
    let mut jobs = Vec::new();
    for cell in cells {
        for (i, c) in cs.iter().enumerate() {
            if c.runs(cell) {
                let (a, b) = (plan.sizes)(cell, plan.quick);
                jobs.push((cell.clone(), i, a));
                jobs.push((cell.clone(), i, b));
            }
        }
    }
    let k = AtomicUsize::new(0);
    let totals = parallel(&jobs, threads, |(cell, i, size)| {
        let id = k.fetch_add(1, Ordering::Relaxed);
        measure(&cs[*i].bin, &cell.args(*size), id)
    });
    let mut out = HashMap::new();
    for (pair, t) in jobs.chunks(2).zip(totals.chunks(2)) {
        let ((cell, i, a), (_, _, b)) = (&pair[0], &pair[1]);
        if let (Some(ta), Some(tb)) = (t[0], t[1]) {
            let per = (tb as f64 - ta as f64) / (cell.units(*b) - cell.units(*a)) as f64;
            out.insert((key(cell), *i), per);
        }
    }
    out
}

fn key(c: &Cell) -> String {
    c.args(0)
        .into_iter()
        .filter(|a| {
            !a.starts_with("events=") && !a.starts_with("timers=") && !a.starts_with("rounds=")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The figures measured when the budget was set, and the budget (callgrind, chain N=1000 one
/// active): blocking, +1 s timeout, pass, pass + random timeout, timer lifecycle.
const AT_BUDGET: &[(&str, [&str; 5])] = &[
    (
        "raw epoll (when the budget was set)",
        ["65", "—", "79", "—", "—"],
    ),
    (
        "mio (when the budget was set)",
        ["79", "—", "155", "—", "—"],
    ),
    (
        "libev (when the budget was set)",
        ["425", "649", "496", "634", "680"],
    ),
    (
        "libevent (when the budget was set)",
        ["606", "1422", "691", "1427", "1620"],
    ),
    (
        "eventop std (when the budget was set)",
        ["422", "691", "581", "1259", "2320"],
    ),
    (
        "**budget, std API**",
        ["≤ 250", "≤ 320", "≤ 250", "≤ 320", "≤ 410"],
    ),
];

fn fmt(v: Option<&f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "—".into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_report(
    root: &Path,
    plan: &Plan,
    cs: &[Contender],
    walls: &[Wall],
    instr: &HashMap<(String, usize), f64>,
    sys: &HashMap<(String, usize), f64>,
    mem: &HashMap<usize, f64>,
    precision: &[(usize, Report)],
    notes: &[String],
    started: &str,
    load: (&str, &str),
    minutes: f64,
) -> String {
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(
        w,
        "Generated by `ci/bench{}` (benches/src/bin/bench.rs), {started}, in {minutes:.1} min.  ",
        if plan.quick { " --quick" } else { "" }
    );
    let _ = writeln!(
        w,
        "Machine: {}, {} cores, {}. Load average (1/5/15 min) at the start {}, at the end {}.\n",
        sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1"),
        sh("nproc"),
        sh("uname -sr"),
        load.0,
        load.1
    );
    for n in notes {
        let _ = writeln!(w, "> {n}\n");
    }
    let _ = writeln!(
        w,
        "Contenders: `eventop_std` (the `eventop` crate's `Base`, closures), `eventop_core` \
         (`EventBase` driven directly), `eventop_backend` (an `Epoll` backend with its \
         `Changelist`, no base), `eventop_heap` (the core's timer heap alone, with a clock and \
         the backend's wait: the timer lifecycle only), `raw_epoll` (no library: the floor), `mio` 1.x, `polling` 3.x \
         (level-triggered), `libevent` 2.1 (`benches/c/chain_libevent.c`, public API only), \
         `eventop_c` (the same C source built against eventop's C library), `libev` 4.33 (`benches/c/chain_libev.c`, native API). Workloads are described in \
         `benches/src/lib.rs`; every contender's callback reads one byte and writes one. Pass \
         form: libevent `EVLOOP_ONCE|EVLOOP_NONBLOCK`, libev `EVRUN_NOWAIT`, eventop \
         `ONCE|NONBLOCK`, the others one wait with a zero timeout. \"10000\" fds is 9900 \
         socketpairs here (the open-file hard limit is 20,000).\n"
    );

    // Instructions.
    let _ = writeln!(w, "## Instructions per event (callgrind, marginal)\n");
    let (a, b) = sizes(&Cell::chain(1000, 1, "none", "block"), plan.quick);
    let (ta, tb) = sizes(&Cell::other("timers", 0), plan.quick);
    let _ = writeln!(
        w,
        "User-space instructions counted by callgrind: two runs of {a} and {b} events (timers: \
         {ta} and {tb} timers; setup: 2 and 12 rounds), the difference over the difference in \
         events, so setup and start-up cancel out. Repeatable on a busy machine. Chain with N = \
         1000 socketpairs, one active; timer lifecycle per timer (add with a random 10–11 s \
         timeout, re-add with a random 0–20 ms one, a quarter deleted, the rest fired); setup \
         per add + delete; bytes: user-space heap per registered idle event, the event's record \
         and closure included (`mallinfo2`, N = {}; the kernel's own epoll entry, the same for \
         every contender, is not counted).\n",
        plan.mem_n,
    );
    let cols = [
        ("blocking", "chain n=1000 active=1 timeout=none form=block"),
        (
            "+ 1 s timeout",
            "chain n=1000 active=1 timeout=fixed form=block",
        ),
        ("pass", "chain n=1000 active=1 timeout=none form=pass"),
        (
            "pass + random timeout",
            "chain n=1000 active=1 timeout=random form=pass",
        ),
        ("timer lifecycle", "timers"),
        (
            "blocking + random timeout",
            "chain n=1000 active=1 timeout=random form=block",
        ),
        (
            "pass + 1 s timeout",
            "chain n=1000 active=1 timeout=fixed form=pass",
        ),
        ("cascade", "cascade n=1000 active=1 timeout=none form=block"),
        ("setup (add + del)", "setup n=1000"),
    ];
    let _ = write!(w, "| contender |");
    for (h, _) in cols {
        let _ = write!(w, " {h} |");
    }
    let _ = writeln!(w, " bytes per idle event |");
    let _ = writeln!(w, "|---{}|---|", "|---:".repeat(cols.len()));
    for (i, c) in cs.iter().enumerate() {
        let _ = write!(w, "| {} |", c.name);
        for (_, k) in cols {
            let _ = write!(w, " {} |", fmt(instr.get(&(k.to_string(), i)), 0));
        }
        let _ = writeln!(w, " {} |", fmt(mem.get(&i), 0));
    }
    for (name, vals) in AT_BUDGET {
        let _ = write!(w, "| {name} |");
        for v in vals {
            let _ = write!(w, " {v} |");
        }
        let bytes = match *name {
            "libev (when the budget was set)" => "76",
            "libevent (when the budget was set)" => "190",
            "eventop std (when the budget was set)" => "288",
            "**budget, std API**" => "≤ 96",
            _ => "—",
        };
        let _ = writeln!(w, "{} {bytes} |", " |".repeat(cols.len() - 5));
    }
    let _ = writeln!(w);

    // Instructions against N.
    let _ = writeln!(w, "### Against the number of fds (chain, no timeout)\n");
    let mut hdr = String::from("| contender |");
    let mut keys = Vec::new();
    for (form, active) in [("block", 1), ("pass", 1), ("block", 100)] {
        for &n in &plan.ns {
            let k = format!("chain n={n} active={active} timeout=none form={form}");
            if instr.keys().any(|(kk, _)| *kk == k) {
                let _ = write!(hdr, " {form} {active} active, N={n} |");
                keys.push(k);
            }
        }
    }
    let _ = writeln!(w, "{hdr}\n|---{}|", "|---:".repeat(keys.len()));
    for (i, c) in cs.iter().enumerate().filter(|(_, c)| c.chains()) {
        let _ = write!(w, "| {} |", c.name);
        for k in &keys {
            let _ = write!(w, " {} |", fmt(instr.get(&(k.clone(), i)), 0));
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(
        w,
        "\n![instructions and wall time per event against the number of fds](benches/chart.svg)\n"
    );

    // Backends.
    let _ = writeln!(
        w,
        "### By backend (chain, blocking, one active)\n\nEach contender picks the backend \
         through its own API (eventop's builder and `EventBase` over the backend's type, \
         libevent's `event_config`, libev's `ev_loop_new`); `changelist` is epoll with \
         libevent's changelist (libev has none). libevent's and libev's poll walk every fd per \
         wait; eventop's stops once it has seen as many ready fds as poll counted, starting one \
         entry further on each wait (for fairness): in the chain the start and the ready fd move \
         on together, so it stays flat here, and walks further when readiness lands elsewhere. \
         select walks its sets a word at a time.\n"
    );
    let mut hdr = String::from("| contender |");
    let mut cells = Vec::new();
    for b in std::iter::once(&"epoll").chain(BACKENDS) {
        for n in [100, 1000] {
            let _ = write!(hdr, " {b}, N={n} |");
            cells.push(Cell::on(b, n));
        }
    }
    let keys: Vec<String> = cells.iter().map(key).collect();
    let _ = writeln!(w, "{hdr}\n|---{}|", "|---:".repeat(keys.len()));
    let mut failed = Vec::new();
    for (i, c) in cs
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.backends.is_empty())
    {
        let _ = write!(w, "| {} |", c.name);
        for (k, cell) in keys.iter().zip(&cells) {
            let v = instr.get(&(k.clone(), i));
            let _ = write!(w, " {} |", fmt(v, 0));
            if v.is_none() && c.runs(cell) {
                // A cell it should have run: say why it did not, from a short run's stderr.
                let args = cell.args(100);
                if let Err(e) = run(&c.bin, &args) {
                    let cmd = format!("{} {}: ", c.bin.display(), args.join(" "));
                    let why = e.strip_prefix(&cmd).unwrap_or(&e).replace('\n', " ");
                    failed.push(format!("{}, {} N={}: {why}", c.name, cell.backend, cell.n));
                }
            }
        }
        let _ = writeln!(w);
    }
    for f in failed {
        let _ = writeln!(w, "\n> failed: {f}");
    }
    let _ = writeln!(w);

    // Syscalls.
    let _ = writeln!(w, "## Syscalls per event (strace -f -c, marginal)\n");
    let _ = write!(w, "| contender |");
    for c in &plan.sys_cells {
        let _ = write!(w, " {} |", c.label());
    }
    let _ = writeln!(w, "\n|---{}|", "|---:".repeat(plan.sys_cells.len()));
    for (i, c) in cs.iter().enumerate().filter(|(_, c)| c.chains()) {
        let _ = write!(w, "| {} |", c.name);
        for cell in &plan.sys_cells {
            let _ = write!(w, " {} |", fmt(sys.get(&(key(cell), i)), 2));
        }
        let _ = writeln!(w);
    }

    // Wall time.
    let _ = writeln!(w, "\n## Wall time per event\n");
    let _ = writeln!(
        w,
        "{} rounds per cell, the contenders alternating run by run (the order rotates each \
         round); {} events per run (twice that at N = 9900), timed inside the program around \
         the loop only. Median ns per event; spread = (max − min) / median; ratios are paired: \
         the median over rounds of the contender's time over the reference's time in the same \
         round. Allocations: per event in the second half of the run (Rust contenders; the \
         worst round).\n",
        plan.reps, plan.wall_events,
    );
    let ref_idx = |name: &str| cs.iter().position(|c| c.name == name);
    let refs = [
        ("raw_epoll", ref_idx("raw_epoll")),
        ("libev", ref_idx("libev")),
        ("libevent", ref_idx("libevent")),
    ];
    let _ = writeln!(w, "| workload | N | contender | median ns | spread | × raw epoll | × libev | × libevent | allocs per event |");
    let _ = writeln!(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|");
    for wl in walls {
        for (i, t) in &wl.times {
            let mut v = t.clone();
            let med = median(&mut v);
            let spread = v
                .last()
                .zip(v.first())
                .map(|(hi, lo)| (hi - lo) / med * 100.0);
            let _ = write!(
                w,
                "| {} | {} | {} | {} | {}% |",
                wl.cell.label(),
                wl.cell.n,
                cs[*i].name,
                fmt(Some(&med), 0),
                fmt(spread.as_ref(), 0)
            );
            for (_, r) in refs {
                let paired =
                    r.and_then(|r| wl.times.iter().find(|(j, _)| *j == r))
                        .map(|(_, rt)| {
                            let mut q: Vec<f64> = t.iter().zip(rt).map(|(a, b)| a / b).collect();
                            median(&mut q)
                        });
                let _ = write!(w, " {} |", fmt(paired.as_ref(), 2));
            }
            let _ = writeln!(w, " {} |", fmt(wl.allocs.get(i), 2));
        }
    }
    let bad: Vec<&String> = walls.iter().flat_map(|w| &w.bad).collect();
    if !bad.is_empty() {
        let _ = writeln!(
            w,
            "\nRuns that failed or counted wrong (their times are still in the table):\n"
        );
        for b in bad {
            let _ = writeln!(w, "- `{b}`");
        }
    }
    // Timer precision.
    let _ = writeln!(w, "\n## Timer precision\n");
    let _ = writeln!(
        w,
        "One 1 ms timer added again from its own callback, {} times (the `precision` workload), \
         one contender at a time: when each firing came, counted from its add. The bar: p50 at \
         most 1.12 ms, never early. libevent 2.1 reads `CLOCK_MONOTONIC_COARSE` (a tick of 4 ms \
         on this kernel) unless a base asks for `EVENT_BASE_FLAG_PRECISE_TIMER`, which the shared \
         C source does not: its timer is seen due only at a tick (strace: several 1 ms waits per \
         firing).\n",
        plan.precision_firings
    );
    let _ = writeln!(w, "| contender | firings | p50 | p99 | max | early |");
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|");
    for (i, r) in precision {
        let at = |k: &str| r.get(k).map(|ns| 1.0 + ns / 1e6);
        let _ = writeln!(
            w,
            "| {} | {} | {} ms | {} ms | {} ms | {} |",
            cs[*i].name,
            fmt(r.get("events"), 0),
            fmt(at("p50").as_ref(), 3),
            fmt(at("p99").as_ref(), 3),
            fmt(at("max").as_ref(), 3),
            fmt(r.get("early"), 0)
        );
    }
    let _ = writeln!(w, "\nRegenerate with `ci/bench` (6 min here, on 2 busy cores) or `ci/bench --quick` (about a minute).");
    std::fs::write(root.join("BENCHMARKS.md"), &md).expect("write BENCHMARKS.md");
    md
}

/// The smallest of 1, 2, 2.5, 4, 5, 8 or 10 times a power of ten that is at least `x` (so the
/// chart's quarter ticks are round numbers).
fn nice(x: f64) -> f64 {
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 4.0, 5.0, 8.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&v| v >= x)
        .unwrap_or(10.0 * p)
}

/// The chart: instructions (callgrind) and median wall time per event against N, one line per
/// contender, log-scaled x, on two panels.
fn chart(
    root: &Path,
    plan: &Plan,
    cs: &[Contender],
    walls: &[Wall],
    instr: &HashMap<(String, usize), f64>,
    caption: &str,
) {
    const COLORS: [&str; 9] = [
        "#d62728", "#ff7f0e", "#e377c2", "#7f7f7f", "#2ca02c", "#17becf", "#1f77b4", "#8c564b",
        "#9467bd",
    ];
    let (pw, ph, ml, mt, mb) = (380.0, 260.0, 60.0, 40.0, 58.0);
    let width = 2.0 * (pw + ml) + 170.0;
    let height = ph + mt + mb;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let xs: Vec<f64> = plan.ns.iter().map(|&n| n as f64).collect();
    let (lx0, lx1) = (xs[0].log10(), xs[xs.len() - 1].log10());
    let series = |panel: usize, i: usize| -> Vec<(f64, f64)> {
        plan.ns
            .iter()
            .filter_map(|&n| {
                let y = if panel == 0 {
                    instr
                        .get(&(format!("chain n={n} active=1 timeout=none form=block"), i))
                        .copied()
                } else {
                    walls
                        .iter()
                        .find(|w| {
                            w.cell.workload == "chain"
                                && w.cell.n == n
                                && w.cell.active == 1
                                && w.cell.timeout == "none"
                                && w.cell.form == "block"
                        })
                        .and_then(|w| w.times.iter().find(|(j, _)| *j == i))
                        .map(|(_, t)| median(&mut t.clone()))
                };
                y.filter(|y| y.is_finite()).map(|y| (n as f64, y))
            })
            .collect()
    };
    for (panel, title) in [
        (0, "instructions per event (callgrind)"),
        (1, "wall ns per event (median)"),
    ] {
        let x0 = ml + panel as f64 * (pw + ml);
        let all: Vec<f64> = (0..cs.len())
            .flat_map(|i| series(panel, i))
            .map(|p| p.1)
            .collect();
        let ymax = nice(all.iter().copied().fold(1.0f64, f64::max) * 1.05);
        let px = |n: f64| x0 + (n.log10() - lx0) / (lx1 - lx0).max(1e-9) * pw;
        let py = |y: f64| mt + ph - y / ymax * ph;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="20" text-anchor="middle" font-size="13">{title}: chain, one active, blocking</text>"#,
            x0 + pw / 2.0
        );
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
        );
        for k in 0..=4 {
            let y = ymax * k as f64 / 4.0;
            let _ = writeln!(
                s,
                r##"<line x1="{x0}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{y:.0}</text>"##,
                x2 = x0 + pw,
                yy = py(y),
                tx = x0 - 4.0,
                ty = py(y) + 4.0
            );
        }
        for &n in &xs {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{n}</text>"#,
                px(n),
                mt + ph + 15.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">socketpairs (log scale)</text>"#,
            x0 + pw / 2.0,
            mt + ph + 32.0
        );
        for i in 0..cs.len() {
            let pts = series(panel, i);
            let col = COLORS[i % COLORS.len()];
            let path: Vec<String> = pts
                .iter()
                .map(|&(n, y)| format!("{:.1},{:.1}", px(n), py(y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="2"/>"#,
                path.join(" ")
            );
            for &(n, y) in &pts {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{col}"/>"#,
                    px(n),
                    py(y)
                );
            }
        }
    }
    let lx = 2.0 * (pw + ml) + 20.0;
    for (k, (i, c)) in cs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.chains())
        .enumerate()
    {
        let y = mt + 10.0 + 18.0 * k as f64;
        let col = COLORS[i % COLORS.len()];
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="{y}" y2="{y}" stroke="{col}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            y + 4.0,
            c.name
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{ml}" y="{}" fill="#555">{caption}</text>"##,
        height - 6.0
    );
    s.push_str("</svg>\n");
    std::fs::write(root.join("benches/chart.svg"), s).expect("write chart.svg");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let note = args
        .iter()
        .position(|a| a == "--note")
        .and_then(|i| args.get(i + 1).cloned());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let mut notes: Vec<String> = note.into_iter().collect();
    let cs = contenders(&root, &mut notes);
    if args.iter().any(|a| a == "--smoke") {
        if let Err(e) = smoke(&cs) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        for n in &notes {
            eprintln!("note: {n}");
        }
        return;
    }
    let started = sh("date -u '+%Y-%m-%d %H:%M UTC'");
    let load0 = sh("cut -d' ' -f1-3 /proc/loadavg");
    let t0 = Instant::now();
    if let Err(e) = smoke(&cs) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let plan = plan(quick);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2);
    eprintln!("wall time: {} cells", plan.wall_cells.len());
    let walls = wall(&plan, &cs);
    eprintln!(
        "callgrind: {} cells ({:.0} s so far)",
        plan.instr_cells.len(),
        t0.elapsed().as_secs_f64()
    );
    let instr = marginal(&plan, &cs, &plan.instr_cells, threads, &|bin, a, _| {
        callgrind(bin, a)
    });
    eprintln!(
        "strace: {} cells ({:.0} s so far)",
        plan.sys_cells.len(),
        t0.elapsed().as_secs_f64()
    );
    let tmp = std::env::temp_dir();
    let sys_plan = Plan {
        sizes: |c, _| {
            if c.workload == "setup" {
                (2, 12)
            } else {
                (1_000, 6_000)
            }
        },
        ..plan_clone(&plan)
    };
    let sys = marginal(&sys_plan, &cs, &plan.sys_cells, threads, &|bin, a, id| {
        syscalls(
            bin,
            a,
            &tmp.join(format!("eventop-bench-strace-{}-{id}", std::process::id())),
        )
    });
    let mem_cell = Cell::other("setup", plan.mem_n);
    let mem: HashMap<usize, f64> = cs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, *run(&c.bin, &mem_cell.args(1)).ok()?.get("bytes")?)))
        .collect();
    // Wall-clock precision: one contender at a time, nothing else of ours running.
    let firings = [
        String::from("precision"),
        format!("timers={}", plan.precision_firings),
    ];
    let precision: Vec<(usize, Report)> = cs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.scope == Scope::All)
        .filter_map(|(i, c)| Some((i, run(&c.bin, &firings).ok()?)))
        .collect();
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let load1 = sh("cut -d' ' -f1-3 /proc/loadavg");
    let md = write_report(
        &root,
        &plan,
        &cs,
        &walls,
        &instr,
        &sys,
        &mem,
        &precision,
        &notes,
        &started,
        (&load0, &load1),
        minutes,
    );
    let caption = format!(
        "ci/bench{}, {started}; machine, load and method in BENCHMARKS.md",
        if quick { " --quick" } else { "" }
    );
    chart(&root, &plan, &cs, &walls, &instr, &caption);
    let first = md.split("### Against").next().unwrap_or("");
    println!("{first}");
    println!("wrote BENCHMARKS.md and benches/chart.svg in {minutes:.1} min");
}

fn plan_clone(p: &Plan) -> Plan {
    Plan {
        quick: p.quick,
        reps: p.reps,
        wall_events: p.wall_events,
        wall_cells: p.wall_cells.clone(),
        instr_cells: p.instr_cells.clone(),
        sizes: p.sizes,
        sys_cells: p.sys_cells.clone(),
        mem_n: p.mem_n,
        precision_firings: p.precision_firings,
        ns: p.ns.clone(),
    }
}
