"""Simulator speed, measured side by side in one run (`make bench-sim`).

(a) One replication of a full Nam Định year (~1.0 M dossiers) on one process: seconds, dossiers per
    second and peak memory (the replication runs in a fresh child process so its peak RSS is its own).
(b) The M/M/c queue (c = 10, λ = 9, μ = 1, 200,000 customers) through dvclab's own counter code path,
    next to Ciw on the same inputs, and the ratio.
Figures are printed and written atomically to results/bench/sim.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

from dvclab.files import atomic_write_json
from dvclab.paths import results_dir, shipped

MMC = {"servers": 10, "arrival_rate": 9.0, "service_rate": 1.0, "customers": 200_000}


def _province_year(scenario_path: str, horizon_days: int, queue: mp.Queue) -> None:
    from dvclab.sim.experiment import single_run
    from dvclab.sim.scenario import load_scenario

    scenario, catalog = load_scenario(scenario_path, **{"run.horizon_days": horizon_days})
    started = time.perf_counter()
    output = single_run(scenario, catalog, 0)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": seconds, "dossiers": output.kpis["dossiers"], "peak_rss_mib": peak_kib / 1024})


def province_year(scenario_path: Path, horizon_days: int) -> dict[str, float]:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(
        target=_province_year, args=(str(scenario_path), horizon_days, queue)
    )
    child.start()
    result = queue.get()
    child.join()
    return result


def dvclab_mmc(customers: int) -> float:
    from dvclab.sim.validation import mmc_single_run

    started = time.perf_counter()
    run = mmc_single_run(
        MMC["arrival_rate"], MMC["service_rate"], MMC["servers"], customers, seed=1, monitored=False
    )
    seconds = time.perf_counter() - started
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
    started = time.perf_counter()
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(customers, method="Finish")
    seconds = time.perf_counter() - started
    assert len(simulation.get_all_records()) >= customers
    return customers / seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", type=Path, default=shipped("sim", "nam-dinh-2024.yaml"))
    parser.add_argument("--horizon-days", type=int, default=366)
    parser.add_argument("--customers", type=int, default=MMC["customers"])
    parser.add_argument("--out", type=Path, default=results_dir("bench", "sim.json"))
    args = parser.parse_args()

    print(
        f"(a) one replication of {args.horizon_days} days of {args.scenario.stem}, one process …", flush=True
    )
    year = province_year(args.scenario, args.horizon_days)
    print(
        f"    {year['seconds']:.1f} s, {year['dossiers']:,.0f} dossiers counted, "
        f"{year['dossiers'] / year['seconds']:,.0f} dossiers/s, peak RSS {year['peak_rss_mib']:,.0f} MiB"
    )
    print(
        f"(b) M/M/{MMC['servers']} λ={MMC['arrival_rate']} μ={MMC['service_rate']}, "
        f"{args.customers:,} customers …",
        flush=True,
    )
    ours = dvclab_mmc(args.customers)
    print(f"    dvclab counter path: {ours:,.0f} customers/s", flush=True)
    theirs = ciw_mmc(args.customers)
    print(f"    Ciw:                 {theirs:,.0f} customers/s")
    figures = {
        "province_year_seconds": round(year["seconds"], 2),
        "dossiers": year["dossiers"],
        "dossiers_per_s": round(year["dossiers"] / year["seconds"], 1),
        "peak_rss_mib": round(year["peak_rss_mib"], 1),
        "mmc_customers_per_s": round(ours, 1),
        "ciw_customers_per_s": round(theirs, 1),
        "ratio_vs_ciw": round(ours / theirs, 2),
        "horizon_days": args.horizon_days,
        "cpu_count": os.cpu_count(),
    }
    print(f"    ratio vs Ciw: {figures['ratio_vs_ciw']:.2f}×  (targets: year ≤ 60 s and ≤ 2 GiB; ratio ≥ 2)")
    atomic_write_json(args.out, figures)
    print(f"figures: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
