"""The `bench` command group: `bench mc` (renders, against OIDN and references) and
`bench photo` (the paper's photographic experiments); each registers its own parser."""
from __future__ import annotations


def register(commands) -> None:
    from mcdenoise.bench import mc
    from mcdenoise.bench.photo import config as photo

    bench = commands.add_parser(
        "bench", help="benchmarks: 'bench mc' (renders, against OIDN and references), "
                      "'bench photo' (the paper's photographic experiments)",
        description="Benchmarks that train, test and write a report (JSON + Markdown + figures).")
    benchmarks = bench.add_subparsers(metavar="BENCHMARK", required=True)
    mc.register(benchmarks)
    photo.register(benchmarks)
