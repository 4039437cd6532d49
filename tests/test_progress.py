"""progress_bar(): a tqdm bar in a terminal, a few lines in a log, plain text left in a notebook."""

import io

import pytest

from ipainter_nb import progress
from ipainter_nb.progress import progress_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture()
def not_in_kernel(monkeypatch):
    monkeypatch.setattr(progress, "in_kernel", lambda: False)


def run(bar, steps):
    with bar:
        for i in range(steps):
            bar.set_postfix(t=steps - i - 1)
            bar.update(1)
    return bar


def test_in_a_terminal_it_is_a_tqdm_bar_that_goes_away(monkeypatch, not_in_kernel):
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = run(progress_bar(50, "painting"), 50)
    out = terminal.getvalue()
    assert out.startswith("\rpainting:   0%|") and "/50 [" in out  # tqdm's own bar (it refreshes at most 10 times a second)
    assert out.endswith(" \r") and bar.n == 50  # leave=False: the line is blanked at the end


def test_in_a_log_it_writes_one_line_per_quarter(capsys, not_in_kernel):
    run(progress_bar(1000, "painting", enabled=True), 1000)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == ["25%", "50%", "75%", "100%"]
    assert "(1000/1000)" in lines[-1] and "t=0" in lines[-1] and "left" in lines[0]


def test_in_a_log_a_stopped_run_says_where_it_stopped(capsys, not_in_kernel):
    run(progress_bar(100, "painting", enabled=True), 30)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "(30/100)" in lines[-1] and lines[-1].endswith("(stopped)")


def test_auto_shows_nothing_where_nobody_watches_and_false_never_shows(monkeypatch, capsys, not_in_kernel):
    run(progress_bar(10, "quiet"), 10)
    run(progress_bar(10, "quiet", enabled=False), 10)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("sys.stderr", FakeTerminal())
    assert type(progress_bar(10, "off", enabled=False)) is progress.ProgressBar


class FakeHandle:
    """What IPython's display(..., display_id=True) returns: a handle that updates in place."""

    def __init__(self, bundle):
        self.shown = [bundle]

    def update(self, bundle, raw=False):
        assert raw
        self.shown.append(bundle)


def test_in_a_notebook_the_bar_becomes_plain_text_when_closed(monkeypatch):
    handles = []

    def fake_display(bundle):
        handles.append(FakeHandle(bundle))
        return handles[-1]

    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    monkeypatch.setattr(progress, "_display", fake_display)
    bar = run(progress_bar(200, "painting"), 200)
    assert bar.closed and len(handles) == 1  # one output, updated in place; no widget
    shown = handles[0].shown
    assert "<progress" in shown[0]["text/html"]
    assert len(shown) < 20  # updates are throttled, not one per step
    assert shown[-1] == {"text/plain": shown[-1]["text/plain"]}  # what the notebook keeps: text only
    assert "100% (200/200)" in shown[-1]["text/plain"]


def test_in_a_notebook_a_stopped_bar_says_so(monkeypatch):
    handles = []
    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    monkeypatch.setattr(progress, "_display", lambda bundle: handles.append(FakeHandle(bundle)) or handles[-1])
    run(progress_bar(10, "painting", enabled=True), 4)
    assert handles[0].shown[-1]["text/plain"].endswith("(stopped)")


def test_in_kernel_is_false_outside_jupyter():
    assert progress.in_kernel() is False


def test_in_a_real_kernel_the_saved_output_is_one_line_of_text(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    code = ("from ipainter_nb.progress import progress_bar\n"
            "with progress_bar(50, 'painting') as bar:\n"
            "    for i in range(50):\n"
            "        bar.update(1)\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert dict(outputs[0]["data"]) == {"text/plain": outputs[0]["data"]["text/plain"]}  # no widget, no HTML bar
    assert outputs[0]["data"]["text/plain"].startswith("painting: 100% (50/50)")
