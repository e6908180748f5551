"""Queueing theory the model is validated against: Erlang C for the M/M/c queue."""

from __future__ import annotations


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Probability that an arriving customer has to wait in an M/M/c queue."""
    offered = arrival_rate / service_rate
    rho = offered / servers
    if rho >= 1:
        raise ValueError(f"unstable queue: utilisation {rho:.3f} >= 1")
    term = 1.0
    total = 1.0
    for k in range(1, servers):
        term *= offered / k
        total += term
    top = term * offered / servers / (1 - rho)
    return top / (total + top)


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in queue (before service) in an M/M/c queue."""
    return erlang_c(arrival_rate, service_rate, servers) / (servers * service_rate - arrival_rate)
