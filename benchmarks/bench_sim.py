"""Simulator speed and memory, measured side by side in one run (`make bench-sim`).

(a) One replication of a full Nam Định year (~1.0 M dossiers; a fixed warm-up, default none, since the
    scenario's ``auto`` warm-up would add a pilot run) on one process: wall and CPU seconds, dossiers
    per second, SimPy events and µs (CPU) per dossier, and peak memory.
(b) The same full year of a synthetic province with 10× the demand and 10× the staff (counters and officer
    pools): memory must follow the dossiers in progress, so its peak may be at most 2× the 1×'s.
    Each province-year runs in a fresh child process, so its peak RSS is its own.
(c) The M/M/c queue (c = 10, λ = 9, μ = 1, 200,000 customers) through dvclab's own counter code path,
    next to Ciw on the same inputs, and the ratio.
Figures are printed and written atomically to results/bench/sim.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue as queue_module
import resource
import sys
import time
from pathlib import Path
from typing import Any

from dvclab.files import atomic_write_json
from dvclab.paths import results_dir, shipped

MMC = {"servers": 10, "arrival_rate": 9.0, "service_rate": 1.0, "customers": 200_000}
TARGETS = {"seconds": 20.0, "peak_rss_mib": 250.0, "scale_memory": 2.0, "ratio_vs_ciw": 4.0}


def scaled(scenario_path: str, factor: int, horizon_days: int, warmup_days: int = 0) -> dict[str, Any]:
    """Overrides that make the scenario's province ``factor`` times larger in demand and in staff, over
    ``horizon_days`` after a fixed warm-up (a bench times the model, not the choice of the warm-up)."""
    from dvclab.sim.scenario import load_scenario

    overrides: dict[str, Any] = {"run.horizon_days": horizon_days, "startup.warmup_days": warmup_days}
    if factor == 1:
        return overrides
    scenario, _ = load_scenario(scenario_path)
    bo = scenario.back_office
    overrides["demand.dossiers_per_year"] = scenario.demand.dossiers_per_year * factor
    overrides["counters.officers"] = {level: n * factor for level, n in scenario.counters.officers.items()}
    overrides["back_office.default_officers"] = bo.default_officers * factor
    overrides["back_office.staffing"] = {
        level: {agency: n * factor for agency, n in agencies.items()}
        for level, agencies in bo.staffing.items()
    }
    return overrides


def _province_year(
    scenario_path: str, factor: int, horizon_days: int, warmup_days: int, queue: mp.Queue
) -> None:
    from dvclab.sim.kpis import replication_kpis
    from dvclab.sim.model import ProvinceModel
    from dvclab.sim.procedures import build_procedures
    from dvclab.sim.scenario import load_scenario

    overrides = scaled(scenario_path, factor, horizon_days, warmup_days)
    scenario, catalog = load_scenario(scenario_path, **overrides)
    wall, cpu = time.perf_counter(), time.process_time()
    model = ProvinceModel(scenario, build_procedures(scenario, catalog), 0)
    model.run()
    output = replication_kpis(model)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "seconds": wall,
            "cpu_seconds": cpu,
            "dossiers": output.kpis["dossiers"],  # counted (after the warm-up)
            "simulated": model.arrived,  # warm-up included
            "events": next(model.env._eid),  # every event SimPy scheduled (its event counter)
            "peak_in_progress": model.peak_in_progress,
            "peak_rss_mib": peak_kib / 1024,
        }
    )


def province_year(scenario_path: Path, factor: int, horizon_days: int, warmup_days: int) -> dict[str, float]:
    context = mp.get_context("spawn")
    queue: mp.Queue = context.Queue()
    child = context.Process(
        target=_province_year, args=(str(scenario_path), factor, horizon_days, warmup_days, queue)
    )
    child.start()
    while True:  # the child's figures, or its failure (its traceback is on stderr): never wait forever
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not child.is_alive():
                raise SystemExit(f"the {factor}× province-year failed (exit code {child.exitcode})") from None
    child.join()
    result["dossiers_per_s"] = result["simulated"] / result["seconds"]
    result["events_per_dossier"] = result["events"] / result["simulated"]
    result["us_per_dossier"] = 1e6 * result["cpu_seconds"] / result["simulated"]
    return result


def dvclab_mmc(customers: int) -> float:
    from dvclab.sim.validation import mmc_single_run

    started = time.process_time()  # CPU: a busy machine slows both alike
    run = mmc_single_run(
        MMC["arrival_rate"], MMC["service_rate"], MMC["servers"], customers, seed=1, monitored=False
    )
    seconds = time.process_time() - started
    assert len(run.waits) == customers
    return customers / seconds


def ciw_mmc(customers: int) -> float:
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=MMC["arrival_rate"])],
        service_distributions=[ciw.dists.Exponential(rate=MMC["service_rate"])],
        number_of_servers=[MMC["servers"]],
    )
    ciw.seed(1)
    started = time.process_time()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(customers, method="Finish")
    seconds = time.process_time() - started
    assert len(simulation.get_all_records()) >= customers
    return customers / seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", type=Path, default=shipped("sim", "nam-dinh-2024.yaml"))
    parser.add_argument("--horizon-days", type=int, default=366)
    parser.add_argument(
        "--warmup-days", type=int, default=0, help="fixed warm-up before the horizon (default 0: the year)"
    )
    parser.add_argument("--scale", type=int, default=10, help="the synthetic province's factor (default 10)")
    parser.add_argument("--customers", type=int, default=MMC["customers"])
    parser.add_argument("--out", type=Path, default=results_dir("bench", "sim.json"))
    args = parser.parse_args()

    years: dict[int, dict[str, float]] = {}
    print(
        f"(a, b) one replication of {args.horizon_days} days of {args.scenario.stem} after "
        f"{args.warmup_days} days of warm-up, one process each:"
    )
    print(
        f"    {'province':>8} {'wall s':>7} {'CPU s':>7} {'dossiers':>10} {'dossiers/s':>10} "
        f"{'events/dossier':>14} {'µs/dossier':>10} {'peak RSS MiB':>12}",
        flush=True,
    )
    for factor in (1, args.scale):
        year = years[factor] = province_year(args.scenario, factor, args.horizon_days, args.warmup_days)
        print(
            f"    {f'{factor}×':>8} {year['seconds']:>7.1f} {year['cpu_seconds']:>7.1f} "
            f"{year['simulated']:>10,.0f} {year['dossiers_per_s']:>10,.0f} "
            f"{year['events_per_dossier']:>14.2f} {year['us_per_dossier']:>10.1f} "
            f"{year['peak_rss_mib']:>12,.0f}",
            flush=True,
        )
    one, big = years[1], years[args.scale]
    scale_memory = big["peak_rss_mib"] / one["peak_rss_mib"]
    print(f"    memory {args.scale}× ÷ 1×: {scale_memory:.2f}  (peak dossiers in progress "
          f"{one['peak_in_progress']:,} and {big['peak_in_progress']:,})")
    print(
        f"(c) M/M/{MMC['servers']} λ={MMC['arrival_rate']} μ={MMC['service_rate']}, "
        f"{args.customers:,} customers …",
        flush=True,
    )
    ours = dvclab_mmc(args.customers)
    print(f"    dvclab counter path: {ours:,.0f} customers per CPU second", flush=True)
    theirs = ciw_mmc(args.customers)
    print(f"    Ciw:                 {theirs:,.0f} customers per CPU second")
    figures = {
        "province_year_seconds": round(one["seconds"], 2),
        "province_year_cpu_seconds": round(one["cpu_seconds"], 2),
        "dossiers": one["dossiers"],
        "dossiers_simulated": one["simulated"],
        "dossiers_per_s": round(one["dossiers_per_s"], 1),
        "events_per_dossier": round(one["events_per_dossier"], 3),
        "us_per_dossier": round(one["us_per_dossier"], 2),
        "peak_rss_mib": round(one["peak_rss_mib"], 1),
        f"scaled_{args.scale}x": {key: round(value, 2) for key, value in big.items()},
        "scale_memory_ratio": round(scale_memory, 2),
        "mmc_customers_per_s": round(ours, 1),
        "ciw_customers_per_s": round(theirs, 1),
        "ratio_vs_ciw": round(ours / theirs, 2),
        "horizon_days": args.horizon_days,
        "warmup_days": args.warmup_days,
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    print(
        f"    ratio vs Ciw: {figures['ratio_vs_ciw']:.2f}×  (targets: year ≤ {TARGETS['seconds']:.0f} s and "
        f"≤ {TARGETS['peak_rss_mib']:.0f} MiB; {args.scale}× memory ≤ {TARGETS['scale_memory']:.0f}× "
        f"the 1×'s; "
        f"ratio ≥ {TARGETS['ratio_vs_ciw']:.0f})"
    )
    atomic_write_json(args.out, figures)
    print(f"figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
