"""The Perfetto / chrome://tracing export: slices on one track nest exactly, for every scenario."""

from __future__ import annotations

from viz.views.chrome import to_chrome


def test_no_slice_passes_the_start_of_the_next_slice_on_its_track_in_any_scenario(scenario_traces):
    for name, trace in scenario_traces.items():
        doc = to_chrome(trace)
        tracks: dict[int, list[dict]] = {}
        for e in doc["traceEvents"]:
            if e["ph"] == "X":
                tracks.setdefault(e["tid"], []).append(e)
        assert tracks, name
        for tid, slices in tracks.items():
            slices.sort(key=lambda e: e["ts"])
            for a, b in zip(slices, slices[1:]):
                assert a["dur"] >= 0 and a["ts"] + a["dur"] <= b["ts"], (name, tid, a, b)


def flows_checked(doc: dict) -> list[tuple[dict, dict, dict, dict]]:
    """Every flow's ends paired by id, each with the slice of its own track it falls in (a flow start inside a slice,
    short of its end; a flow end at a slice's start): what Perfetto and chrome://tracing bind with `bp: "e"`."""
    slices: dict[int, list[dict]] = {}
    ends: dict[int, dict[str, dict]] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            slices.setdefault(e["tid"], []).append(e)
        elif e["ph"] in "sf":
            assert e["bp"] == "e" and e["cat"] == "cause", e
            assert e["ph"] not in ends.setdefault(e["id"], {}), ("an id used twice", e)
            ends[e["id"]][e["ph"]] = e
    checked = []
    for fid, pair in ends.items():
        assert set(pair) == {"s", "f"}, ("an unpaired flow", fid, pair)
        s, f = pair["s"], pair["f"]
        assert s["ts"] <= f["ts"] and s["tid"] != f["tid"], pair
        start = [x for x in slices[s["tid"]] if x["ts"] <= s["ts"] < x["ts"] + x["dur"] or x["ts"] == s["ts"]]
        end = [x for x in slices[f["tid"]] if x["ts"] == f["ts"]]
        assert start, ("a flow start outside every slice of its track", s)
        assert end, ("a flow end at no slice's start on its track", f)
        checked.append((s, f, start[-1], end[-1]))
    return checked


def test_every_flow_of_a_cause_starts_in_a_running_slice_of_the_waker_and_ends_at_the_woken_slice(scenario_traces):
    flows = 0
    for name, trace in scenario_traces.items():
        for s, f, waker, woken in flows_checked(to_chrome(trace)):
            assert waker["name"] == "running", (name, s, waker)
            assert woken["args"]["cause"] == f["name"] and woken["args"]["woken_by"], (name, woken)
            flows += 1
    assert flows > 0


def test_a_lock_handoff_exports_a_flow_from_main_releasing_the_lock_to_the_worker_that_waited_for_it(script):
    from test_app_causes import handoff

    trace, wait = handoff(script)
    main, worker = (next(ln for ln in trace.lanes if ln.name == n) for n in ("main", "worker"))
    checked = flows_checked(to_chrome(trace))
    to_worker = [(s, f) for s, f, _, woken in checked if f["tid"] == worker.task and woken["ts"] == round(wait.end * 1e6, 3)]
    assert len(to_worker) == 1 and to_worker[0][0]["tid"] == main.task, checked
    s, _ = to_worker[0]
    assert 0.25e6 <= s["ts"] - round(wait.start * 1e6, 3) <= 0.6e6  # main released it the 0.3 s wait later
    to_main = [s for s, f, _, _ in checked if f["tid"] == main.task]
    assert [s["tid"] for s in to_main][-1:] == [worker.task]  # the join returned when worker ended
