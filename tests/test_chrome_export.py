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
