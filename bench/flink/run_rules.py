"""Runs the Flink side of the Shardwise-vs-Flink benchmark (issue 9).

Python only submits Flink SQL (source.sql, r1.sql, r2.sql beside this file) to a local
MiniCluster through PyFlink: no Python UDFs, so every record is processed in the JVM.

Timing: each rule runs three times in the same JVM: a warm-up on an empty input file, then
on the empty file again (job start-up: MiniCluster, planning, deployment, tear-down), then
on the real input. The throughput is
the number of input records divided by (full wall time - empty wall time), i.e. start-up
excluded. CPU is read from /proc/<jvm pid>/stat (user + system, all threads) around each
job; CPU per million events subtracts the empty job's CPU the same way.

Writes a metrics JSON (see `--metrics`) read by the Rust harness (`flink-bench`).
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES = ("r1", "r2", "late")
SINKS = {"r1": "r1_alerts", "r2": "r2_totals", "late": "late_probe"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--input", required=True, help="JSON Lines transactions")
    p.add_argument("--out-dir", required=True, help="results: <out-dir>/<rule>/part-*")
    p.add_argument("--metrics", required=True, help="where to write the metrics JSON")
    p.add_argument("--rules", default="r1,r2", help="r1, r2 and/or late (the late probe)")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--watermark-delay-s", type=int, default=10)
    p.add_argument(
        "--watermark-interval-ms", type=int, default=200,
        help="pipeline.auto-watermark-interval (Flink's default 200 ms); the watermark the "
        "window operators see trails max(event time) - delay by less than this",
    )
    p.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE",
        help="extra Flink configuration (repeatable), recorded in the metrics",
    )
    return p.parse_args()


def sql(name, **values):
    text = (HERE / name).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    # Comments go first: they may contain semicolons.
    return [s.strip() for s in strip_comments(text).split(";") if s.strip()]


def strip_comments(statement):
    lines = [l for l in statement.splitlines() if not l.strip().startswith("--")]
    return "\n".join(lines).strip()


def jvm_cpu_seconds(pid):
    """User + system CPU of the whole JVM process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces: split after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def run_job(t_env, pid, rule, input_path, output, watermark_delay_s):
    if os.path.exists(output):
        shutil.rmtree(output)
    statements = sql("source.sql", input=input_path, watermark_delay_s=watermark_delay_s)
    statements += sql(f"{rule}.sql", output=output)
    cpu0, t0 = jvm_cpu_seconds(pid), time.monotonic()
    for s in statements[:-1]:
        t_env.execute_sql(s)
    t_env.execute_sql(statements[-1]).wait()
    wall, cpu = time.monotonic() - t0, jvm_cpu_seconds(pid) - cpu0
    for table in ("transactions", SINKS[rule]):
        t_env.execute_sql(f"DROP TEMPORARY TABLE IF EXISTS {table}")
    return wall, cpu


def main():
    args = parse_args()
    t0 = time.monotonic()
    from pyflink.java_gateway import get_gateway
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", str(args.parallelism))
    conf.set("table.local-time-zone", "UTC")
    conf.set("pipeline.auto-watermark-interval", f"{args.watermark_interval_ms} ms")
    extra = dict(kv.split("=", 1) for kv in args.conf)
    for key, value in extra.items():
        conf.set(key, value)
    pid = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    jvm_start = time.monotonic() - t0

    events = count_lines(args.input)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    empty = out_dir / "empty-input.jsonl"
    empty.write_text("")
    version = get_gateway().jvm.org.apache.flink.runtime.util.EnvironmentInformation.getVersion()
    metrics = {
        "flink_version": version,
        "parallelism": args.parallelism,
        "watermark_delay_s": args.watermark_delay_s,
        "watermark_interval_ms": args.watermark_interval_ms,
        "events": events,
        "conf": extra,
        "jvm_start_s": round(jvm_start, 3),
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
        "rules": {},
    }
    for rule in args.rules.split(","):
        if rule not in RULES:
            sys.exit(f"unknown rule {rule}")
        # Warm-up on the empty input first (class loading and JIT of the planner would
        # otherwise inflate the measured start-up), then the measured empty job.
        run_job(t_env, pid, rule, str(empty), str(out_dir / f"{rule}-empty"), args.watermark_delay_s)
        e_wall, e_cpu = run_job(
            t_env, pid, rule, str(empty), str(out_dir / f"{rule}-empty"), args.watermark_delay_s
        )
        wall, cpu = run_job(
            t_env, pid, rule, args.input, str(out_dir / rule), args.watermark_delay_s
        )
        net = max(wall - e_wall, 1e-9)
        m = {
            # Other work on the machine slows Flink down: recorded so a reader can judge.
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
            "startup_s": round(e_wall, 3),
            "wall_s": round(wall, 3),
            "net_s": round(net, 3),
            "events_per_s": round(events / net, 1),
            "cpu_s": round(cpu, 2),
            "startup_cpu_s": round(e_cpu, 2),
            "cpu_s_per_million": round(max(cpu - e_cpu, 0.0) / events * 1e6, 2) if events else 0,
        }
        metrics["rules"][rule] = m
        print(f"{rule}: {json.dumps(m)}", file=sys.stderr)
    Path(args.metrics).write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
