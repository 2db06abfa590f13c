"""MLGym-Bench metrics: Best Attempt/Submission@k, performance ratios, profiles, AUP.

The small tables below have AUPs worked out by hand in the comments. Most use a
coarse grid (``points``) so the left Riemann sum has a handful of terms; one checks
the 500-point grid against the closed form, and one reproduces AUPs the MLGym
authors published.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.study import metrics
from harness.study.metrics import (
    BASELINE,
    ScoreTable,
    aup_csv,
    profiles,
    read_table,
    tables_from_results,
)

REPO = Path(__file__).resolve().parent.parent
PUBLISHED = REPO / "baselines" / "mlgym_bench"
BEST_CSV = PUBLISHED / "best_scores_test_results.csv"
LAST_CSV = PUBLISHED / "last_scores_test_results.csv"


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def harness(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


# Case 1, higher-is-better tasks, a missing score and a tie with the baseline.
#   A: baseline 1, m1 4, m2 2   -> best 4; ratios m1 1, m2 2, baseline 4;
#                                  worst ratio 4, penalty 4.2 -> ceil 5
#   B: baseline 1, m1 -, m2 1   -> m2 ties the baseline (feasible), best 1; ratios m2 1,
#                                  baseline 1; m1 missing -> penalty 1 x 1.05 -> ceil 2
#   tau_max = ceil_0.1(log10 5 = 0.699) = 0.7
CASE1 = """
Task,baseline,m1,m2
A,1,4,2
B,1,,1
"""


def test_hand_made_table_maximize_missing_and_tie(tmp_path):
    table = read_table(write(tmp_path / "best.csv", CASE1))
    p = profiles(table, points=8)
    # Grid 0, .1, ..., .7; AUP = 0.1 x (rho at 0 .. .6).  log10 ratios:
    #   m1: A 0, B log10 1.05 = .021  -> rho .5, then 1 x6          -> 0.1 x 6.5 = .65
    #   m2: A log10 2 = .301, B 0     -> rho .5 at 0,.1,.2,.3, 1 x3 -> 0.1 x 5   = .50
    #   baseline: A log10 4 = .602, B 0 -> rho .5 up to .6         -> 0.1 x 3.5 = .35
    assert p.tau_max == pytest.approx(0.7)
    assert p.taus[0] == 0 and p.taus[-1] == p.tau_max and len(p.taus) == 8
    assert p.aup_best == pytest.approx({"m1": 0.65, "m2": 0.5, BASELINE: 0.35})
    assert list(p.aup_best) == ["m1", "m2", BASELINE]  # models in table order, then baseline
    assert p.best["m1"] == pytest.approx([0.5] + [1.0] * 7)
    assert p.last is None and p.aup_last is None


def test_default_grid_is_500_points_left_riemann_sum(tmp_path):
    table = read_table(write(tmp_path / "best.csv", CASE1))
    p = profiles(table)
    assert len(p.taus) == 500 and p.taus[-1] == 0.7
    # A task with log ratio v counts from the first grid point >= v, i.e. for
    # 499 - ceil(v / step) of the 499 left-Riemann terms (all 499 when v = 0).
    step = 0.7 / 499

    def area(*logs: float) -> float:
        return sum(step * (499 - math.ceil(v / step)) for v in logs) / len(logs)

    assert p.aup_best["m1"] == pytest.approx(area(0, math.log10(1.05)))  # = .6888
    assert p.aup_best["m2"] == pytest.approx(area(math.log10(2), 0))
    assert p.aup_best[BASELINE] == pytest.approx(area(math.log10(4), 0))
    assert aup_csv(p).splitlines()[1] == "m1,0.689,"


# Case 2: a lower-is-better task, a negative score, scores worse than the baseline, ties.
#   T (minimize): baseline 10, m1 5, m2 12 (worse than baseline), m3 -1 (negative)
#       feasible: m1 5 (best), baseline 10 -> ratios m1 1, baseline 10/5 = 2;
#       penalty 2 x 1.05 = 2.1 for m2 and m3 -> ceil 3
#   U (maximize): baseline .5, m1 .4 (worse than baseline), m2 1, m3 1 (tie for best)
#       ratios m2 1, m3 1, baseline 2; penalty 2.1 for m1 -> ceil 3
#   tau_max = ceil_0.1(log10 3 = .477) = 0.5
CASE2 = """
Task,baseline,m1,m2,m3
T,10,5,12,-1
U,0.5,0.4,1,1
"""


def test_hand_made_table_minimize_infeasible_and_ties(tmp_path):
    table = read_table(write(tmp_path / "best.csv", CASE2), minimize=["T"])
    p = profiles(table, points=6)
    # Grid 0, .1, ..., .5; AUP = 0.1 x (rho at 0 .. .4).  log10 2.1 = .322, log10 2 = .301
    #   m1: T 0, U .322      -> .5 at 0..0.3, 1 at .4 -> 0.1 x 3 = .3
    #   m2, m3: T .322, U 0  -> the same                -> .3 (the tie at best counts for both)
    #   baseline: T .301, U .301 -> 0 up to .3, 1 at .4 -> 0.1 x 1 = .1
    assert p.tau_max == pytest.approx(0.5)
    assert p.aup_best == pytest.approx({"m1": 0.3, "m2": 0.3, "m3": 0.3, BASELINE: 0.1})
    ratios, penalty = metrics.task_ratios({"m1": 5, "m2": 12, "m3": -1, BASELINE: 10}, 10, True,
                                          ["m1", "m2", "m3", BASELINE])
    assert ratios == pytest.approx({"m1": 1, "m2": 2.1, "m3": 2.1, BASELINE: 2})
    assert penalty == pytest.approx(2.1)


def test_direction_changes_the_ratios(tmp_path):
    # Read as maximize, T's best is m2's 12 and m1's 5 falls below the baseline 10:
    # m2 now wins both tasks (ratio 1), m1 neither (penalized on both).
    table = read_table(write(tmp_path / "best.csv", CASE2))
    p = profiles(table, points=6)
    assert p.best["m2"][0] == 1.0  # best on T (12) and tied best on U
    assert p.best["m1"][0] == 0.0


# Case 3: the best-submission table widens tau_max for both tables.
#   Last A: baseline 1, m1 1, m2 19 -> ratios m2 1, m1 19, baseline 19;
#           penalty 19.95 -> ceil 20;  B as in case 1 (ceil 2)
#   tau_max = ceil_0.1(log10 20 = 1.301) = 1.4 for both tables
CASE3_LAST = """
Task,baseline,m1,m2
A,1,1,19
B,1,,1
"""


def test_last_table_shares_one_grid(tmp_path):
    best = read_table(write(tmp_path / "best.csv", CASE1))
    last = read_table(write(tmp_path / "last.csv", CASE3_LAST))
    p = profiles(best, last, points=15)
    # Grid 0, .1, ..., 1.4; AUP = 0.1 x (rho at 0 .. 1.3), 14 terms.
    # Best (case 1 logs):  m1 .5 + 13 x 1 = 13.5 -> 1.35
    #                      m2 4 x .5 + 10 x 1 = 12 -> 1.2
    #                      baseline 7 x .5 + 7 x 1 = 10.5 -> 1.05
    # Last: m1 A log10 19 = 1.279, B .021: 0 at 0, .5 at .1 .. 1.2, 1 at 1.3 -> 7 -> .7
    #       m2 best everywhere -> 14 -> 1.4 (= tau_max)
    #       baseline A 1.279, B 0: .5 at 0 .. 1.2, 1 at 1.3 -> 7.5 -> .75
    assert p.tau_max == pytest.approx(1.4)
    assert p.aup_best == pytest.approx({"m1": 1.35, "m2": 1.2, BASELINE: 1.05})
    assert p.aup_last == pytest.approx({"m1": 0.7, "m2": 1.4, BASELINE: 0.75})
    assert aup_csv(p) == "Model,Best AUP,Last AUP\nm1,1.350,0.700\nm2,1.200,1.400\nbaseline,1.050,0.750\n"


def test_unsolved_task_and_zero_scores_count_against_everyone():
    # X: nobody feasible (baseline and m1 negative, m2 missing) -> no ratio counts for
    #    anyone, and X sets no tau_max.
    # Y (maximize): m2 2 is best; m1 and the baseline score 0, which has no finite
    #    ratio 2/0, so both are penalized: worst finite ratio 1 -> penalty 1.05 -> ceil 2
    #    -> tau_max = ceil_0.1(log10 2 = .301) = .4
    table = ScoreTable(tasks=["X", "Y"], models=["m1", "m2"],
                       scores={"X": {"m1": -2.0, "m2": None}, "Y": {"m1": 0.0, "m2": 2.0}},
                       baseline={"X": -1.0, "Y": 0.0})
    p = profiles(table, points=5)
    # Grid 0, .1, .2, .3, .4. m2: Y ratio 1 -> rho .5 everywhere -> .1 x 4 x .5 = .2
    # m1, baseline: Y log10 1.05 = .021 -> .5 from .1 on -> .1 x 3 x .5 = .15
    assert p.tau_max == pytest.approx(0.4)
    assert p.aup_best == pytest.approx({"m2": 0.2, "m1": 0.15, BASELINE: 0.15})


def test_reproduces_the_aups_the_mlgym_authors_published(tmp_path):
    # Tables and AUPs of 7 models on 12 tasks from results/tables/ of the MLGym code
    # (public fork omi-n/MLGym@0b665e9: best_scores_, last_scores_ and
    # aup_scores_test_results.csv). Their AUPs were computed from unrounded scores,
    # the tables hold 3 decimals: agreement within one grid step's worth (1e-3).
    header = ("Task,baseline,llama3-405b-tools,gpt4o2,claude-35-sonnet-new,claude-37-sonnet,"
              "gemini-15-pro,gemini-20-flash-thinking,gpt-o1\n")
    best = write(tmp_path / "best.csv", header + """
House Price,0.88,0.908,0.895,0.921,0.92,0.914,0.887,0.931
3-SAT,16.158,13.793,13.676,15.728,13.02,14.36,13.278,13.652
CIFAR-10,0.497,0.548,0.733,0.895,0.937,0.84,0.684,0.857
Fashion MNIST,0.783,0.876,0.927,0.945,0.947,0.916,0.918,0.92
Language Modeling,4.673,,4.361,4.476,,4.166,3.96,3.966
MNLI,52.511,77.748,81.946,83.036,83.749,83.821,85.899,83.627
Battle of Sexes,1.023,1.261,1.149,1.442,1.443,1.443,1.442,1.444
Prisoners Dilemma,2.372,2.632,2.6,2.567,2.624,2.63,2.382,2.629
Blotto,-0.248,0.043,0.047,0.576,0.186,0.249,0.25,0.248
Breakout,48.817,58.87,0.0,35.017,44.419,71.389,46.785,63.518
Meta Maze,15.734,26.744,7.823,48.562,,27.859,47.169,34.986
Mountain Car Continuous,33.794,18.692,-215.776,36.313,,92.513,53.977,96.335
""")
    last = write(tmp_path / "last.csv", header + """
House Price,0.88,0.908,0.895,0.912,0.92,0.908,0.886,0.931
3-SAT,16.158,13.936,13.676,15.728,13.212,14.36,13.278,13.83
CIFAR-10,0.497,0.528,0.733,0.894,0.937,0.758,0.684,0.854
Fashion MNIST,0.783,0.876,0.927,0.945,0.942,0.916,0.918,0.906
Language Modeling,4.673,,4.361,4.476,,4.166,3.96,3.966
MNLI,52.511,77.748,81.946,83.036,83.749,83.821,85.899,83.627
Battle of Sexes,1.023,1.256,1.144,1.439,1.438,1.443,1.439,1.439
Prisoners Dilemma,2.372,2.562,2.582,2.563,2.62,2.63,2.382,2.571
Blotto,-0.248,0.041,0.047,0.228,0.186,0.088,0.247,0.247
Breakout,48.817,58.87,0.0,17.735,40.997,71.389,40.98,63.518
Meta Maze,15.734,26.744,7.823,48.562,,22.889,47.169,34.986
Mountain Car Continuous,33.794,18.692,-216.621,36.313,,92.513,53.977,96.335
""")
    published = {  # model: (Best AUP, Last AUP)
        "llama3-405b-tools": (0.996, 1.022), "gpt4o2": (0.984, 1.014),
        "claude-35-sonnet-new": (1.132, 1.13), "claude-37-sonnet": (1.051, 1.082),
        "gemini-15-pro": (1.135, 1.118), "gemini-20-flash-thinking": (1.113, 1.143),
        "gpt-o1": (1.145, 1.174), "baseline": (0.931, 0.96),
    }
    minimize = ["3-SAT", "Language Modeling"]
    p = profiles(read_table(best, minimize), read_table(last, minimize))
    assert p.tau_max == pytest.approx(1.2)
    for model, (best_aup, last_aup) in published.items():
        assert p.aup_best[model] == pytest.approx(best_aup, abs=1.1e-3), model
        assert p.aup_last[model] == pytest.approx(last_aup, abs=1.1e-3), model
    for ours, theirs in ((p.aup_best, 0), (p.aup_last, 1)):
        assert sorted(ours, key=ours.get) == sorted(published, key=lambda m: published[m][theirs])


def test_tables_from_episode_results():
    def result(task, model, run, best, final, direction="maximize"):
        return {"task": task, "model": {"backend": "demo", "model": "demo"}, "primary_metric": "score",
                "direction": direction, "baseline": {"score": 1.0},
                "best_validation": None if best is None else {"score": best, "other": 99.0},
                "final_metrics": None if final is None else {"score": final},
                "labels": {"study": "s", "model": model, "run": run}}

    results = [
        result("t1", "a", 1, 0.5, 0.4), result("t1", "a", 2, 0.9, 0.7), result("t1", "a", 3, None, None),
        result("t1", "b", 1, None, None),  # no run of b scored: missing
        result("t2", "a", 1, 3.0, 3.0, "minimize"), result("t2", "a", 2, 2.0, 2.5, "minimize"),
        result("t2", "b", 1, 4.0, None, "minimize"),
        {"task": "t2", "model": {"model": "c-model"}, "primary_metric": "score", "direction": "minimize",
         "baseline": {"score": 5.0}, "best_validation": {"score": 1.5}, "final_metrics": {"score": 1.5}},
    ]
    best, last = tables_from_results(results)
    assert best.tasks == ["t1", "t2"] and best.models == ["a", "b", "c-model"]
    assert best.minimize == {"t2"} == last.minimize
    assert best.scores == {"t1": {"a": 0.9, "b": None, "c-model": None},
                           "t2": {"a": 2.0, "b": 4.0, "c-model": 1.5}}   # Best Attempt@k
    assert last.scores == {"t1": {"a": 0.7, "b": None, "c-model": None},
                           "t2": {"a": 2.5, "b": None, "c-model": 1.5}}  # Best Submission@k
    assert best.baseline == {"t1": 1.0, "t2": 1.0}


def test_write_then_read_round_trips(tmp_path):
    table = read_table(write(tmp_path / "in.csv", CASE2), minimize=["T"])
    table.scores["U"]["m3"] = 1 / 3
    metrics.write_table(table, tmp_path / "out.csv")
    again = read_table(tmp_path / "out.csv", minimize=["T"])
    assert again == table
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "Task,baseline,m1,m2,m3"


def test_published_tables_and_task_names():
    best, last = metrics.published_tables()
    assert len(best.models) == 12 and BASELINE not in best.models
    assert best.minimize == {"3-SAT", "Language Modeling"} == last.minimize
    names = metrics.published_task_names()
    assert names["sat_3"] == "3-SAT" and names["mountain_car"] == "Mountain Car Continuous"
    assert "titanic" not in names and set(names.values()) == set(best.tasks)
    minimize_rows = [line.split(",") for line in (PUBLISHED / "tasks.csv").read_text().splitlines()[1:]]
    assert {n for row in minimize_rows if row[2] == "minimize" for n in row[:2]} == metrics.KNOWN_MINIMIZE
    p = profiles(best, last)
    # tau_max by hand: the largest penalty is Blotto's best attempts: best .576 (claude-35),
    # worst feasible .023 (llama4-17b-16): 25.04 x 1.05 = 26.3 -> 27 -> log10 1.431 -> 1.5.
    assert p.tau_max == 1.5
    # rho(0) is the share of tasks a method wins; by reading the rows of the best table:
    # claude-35 wins CIFAR-10, Fashion MNIST, Blotto, Meta Maze; gpt-o1 House Price,
    # Language Modeling (min), Mountain Car; llama4-17b-16 3-SAT (min), Prisoners Dilemma.
    wins = {"claude-35-sonnet-new": 4, "gpt-o1": 3, "llama4-17b-16": 2, "llama4-17b-128": 1,
            "gemini-25-pro": 1, "gemini-20-flash-thinking": 1, "gemini-15-pro": 1}
    assert {m: round(rho[0] * 13) for m, rho in p.best.items() if rho[0]} == wins


def test_cli_on_the_published_tables():
    out = harness("profile", str(BEST_CSV), "--last", str(LAST_CSV))
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    lines = out.stdout.splitlines()
    assert lines[0] == "Model,Best AUP,Last AUP"
    rows = {name: (float(b), float(c)) for name, b, c in (line.split(",") for line in lines[1:])}
    assert list(rows)[-1] == BASELINE and len(rows) == 13
    assert all(0 < v <= 1.5 for pair in rows.values() for v in pair)  # tau_max is 1.5
    # gpt-o3-mini is feasible only on 3-SAT, Battle of Sexes and Prisoners Dilemma (missing,
    # negative or below the baseline elsewhere), and gpt-o1 beats it on all three
    # (13.652 < 14.244, 1.444 > 1.15, 2.629 > 2.386 best; 13.83, 1.439, 2.571 last):
    # every ratio of gpt-o1 is at most gpt-o3-mini's, so its AUP is higher in both.
    assert rows["gpt-o1"][0] > rows["gpt-o3-mini"][0] and rows["gpt-o1"][1] > rows["gpt-o3-mini"][1]
    # Without flags the lower-is-better tasks are known by name: 3-SAT read as maximize
    # would make llama4-17b-16 (11.894, the fastest) infeasible there and change its AUP.
    flagged = harness("profile", str(BEST_CSV), "--last", str(LAST_CSV),
                      "--minimize", "3-SAT", "--minimize", "Language Modeling")
    assert flagged.stdout == out.stdout
    flipped = harness("profile", str(BEST_CSV), "--minimize", "Language Modeling")
    assert flipped.returncode == 0
    best_only = dict(line.split(",")[:2] for line in flipped.stdout.splitlines()[1:])
    assert float(best_only["llama4-17b-16"]) < rows["llama4-17b-16"][0]


def test_cli_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = harness("profile", str(BEST_CSV), "--last", str(LAST_CSV), "--plot", str(tmp_path / "p.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "p.png").stat().st_size > 20_000


def test_cli_plot_to_an_unknown_format_fails_before_printing(tmp_path):
    pytest.importorskip("matplotlib")
    out = harness("profile", str(BEST_CSV), "--plot", str(tmp_path / "p.xyz"))
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1
    assert out.stderr.startswith("error: cannot plot to") and ".png" in out.stderr


def test_cli_plot_without_matplotlib_says_how_to_install(tmp_path):
    script = ("import sys; sys.modules['matplotlib'] = None; from harness.cli import main; "
              f"main(['profile', {str(BEST_CSV)!r}, '--plot', {str(tmp_path / 'p.png')!r}])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "pip install 'harness[plots]'" in out.stderr
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("content,args,message", [
    (None, (), "no such file"),
    ("", (), "empty file"),
    ("Name,baseline,m1\nA,1,2\n", (), "no 'Task' column"),
    ("Task,m1\nA,2\n", (), "no 'baseline' column"),
    ("Task,baseline,m1\nA,1,fast\n", (), "'fast' is not a number"),
    ("Task,baseline,m1\nA,1,2,3\n", (), "row 2 has 4 cells"),
    ("Task,baseline,m1\n", (), "no tasks"),
    ("Task,baseline,m1\nA,1,2\n", ("--minimize", "3-SAT"), "no task named '3-SAT'"),
])
def test_cli_bad_tables_give_one_error_line(tmp_path, content, args, message):
    path = tmp_path / "best.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = harness("profile", str(path), *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr


def test_cli_last_table_with_other_models_is_an_error(tmp_path):
    best = write(tmp_path / "best.csv", CASE1)
    last = write(tmp_path / "last.csv", "Task,baseline,m1,m3\nA,1,1,1\nB,1,1,1")
    out = harness("profile", str(best), "--last", str(last))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "same tasks and models" in out.stderr
