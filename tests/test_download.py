"""Opt-in downloads, against a local HTTP server only: complete or nothing, never a lost file."""

import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.request
from pathlib import Path

import pytest
import torch
from conftest import TINY_UNET

from ipainter_nb.core.download import DownloadError, download_file, download_weights
from ipainter_nb.core.presets import PRESETS, Preset
from ipainter_nb.core.unet import build_unet
from ipainter_nb.errors import IPainterError

PAYLOAD = bytes(range(256)) * 400  # 100 kB


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``PAYLOAD`` in the ways a real server fails: ``/<mode>``."""

    protocol_version = "HTTP/1.1"  # chunked transfers need it
    payload = PAYLOAD
    hits: dict[str, int] = {}
    release = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        mode = self.path.strip("/")
        self.hits[mode] = self.hits.get(mode, 0) + 1
        half = len(self.payload) // 2
        if mode == "hang":  # accept, never answer
            self.release.wait(30)
            return
        if mode == "missing":
            self.send_error(404)
            return
        if mode == "busy":
            self.send_error(503)
            return
        if mode == "flaky" and self.hits[mode] == 1:
            mode = "drop-length"
        if mode in ("good", "flaky", "drop-length", "slow"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload if mode in ("good", "flaky") else self.payload[:half])
            self.wfile.flush()
            if mode == "slow":  # half the file, then silence (long enough to be killed)
                self.release.wait(30)
            self.close_connection = True
            return
        if mode == "drop-chunked":  # no Content-Length; the protocol still tells the end is missing
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{half:x}\r\n".encode() + self.payload[:half] + b"\r\n")
            self.close_connection = True
            return
        if mode == "drop-unframed":  # no length, no chunks: the end of the connection is the end of the body
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(self.payload[:half])
            self.close_connection = True
            return
        self.send_error(400)


@pytest.fixture()
def server():
    Handler.hits = {}
    Handler.release = threading.Event()
    Handler.payload = PAYLOAD
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


FAST = dict(progress=False, retries=1, retry_wait=0.01, connect_timeout=2, read_timeout=2)


def test_a_complete_download_is_installed_and_its_sum_recorded(server, tmp_path, capsys):
    dest = tmp_path / "dl" / "model.pt"
    assert download_file(f"{server}/good", dest, **FAST) == dest
    assert dest.read_bytes() == PAYLOAD
    assert Path(f"{dest}.sha256").read_text().split()[0] == hashlib.sha256(PAYLOAD).hexdigest()
    assert "recorded SHA-256" in capsys.readouterr().out
    assert leftovers(dest.parent) == []


def test_progress_is_shown_in_mib_even_in_a_log(server, tmp_path, capsys):
    Handler.payload = PAYLOAD * 30  # 3 MiB
    download_file(f"{server}/good", tmp_path / "model.pt", **{**FAST, "progress": True})
    err = capsys.readouterr().err
    assert "model.pt (MiB): 100% (3/3)" in err and len(err.splitlines()) <= 6  # a few summary lines, not a flood


@pytest.mark.parametrize("mode", ["drop-length", "drop-chunked"])
def test_a_connection_dropped_halfway_installs_nothing_and_keeps_the_good_file(server, tmp_path, mode):
    dest = tmp_path / "model.pt"
    dest.write_bytes(b"the good file from before")
    with pytest.raises(DownloadError) as err:
        download_file(f"{server}/{mode}", dest, **FAST)
    message = str(err.value)
    assert f"{server}/{mode}" in message and "after 2 tries" in message and "left as it was" in message
    assert Handler.hits[mode] == 2  # retried once
    assert dest.read_bytes() == b"the good file from before"
    assert not Path(f"{dest}.sha256").exists()  # a sum is recorded only for a complete file
    assert leftovers(tmp_path) == []


def test_a_transfer_cut_once_succeeds_on_the_next_try(server, tmp_path):
    dest = tmp_path / "model.pt"
    Path(f"{dest}.sha256").write_text("0123  model.pt\n")  # the sum of some earlier file
    download_file(f"{server}/flaky", dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), **FAST)
    assert dest.read_bytes() == PAYLOAD and Handler.hits["flaky"] == 2
    assert Path(f"{dest}.sha256").read_text().split()[0] == hashlib.sha256(PAYLOAD).hexdigest()


def test_a_server_that_never_answers_times_out_quickly(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="no answer within the timeout"):
        download_file(f"{server}/hang", tmp_path / "model.pt", progress=False, connect_timeout=0.3, retries=1, retry_wait=0.01)
    assert time.monotonic() - start < 5
    assert Handler.hits["hang"] == 2
    assert list(tmp_path.iterdir()) == []


def test_a_transfer_that_stalls_midway_times_out_on_the_read_timeout(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="no answer within the timeout"):
        download_file(f"{server}/slow", tmp_path / "model.pt", progress=False, connect_timeout=20, read_timeout=0.3,
                      retries=1, retry_wait=0.01)
    assert time.monotonic() - start < 5  # the 20 s connect timeout does not apply to the body
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_sum_discards_the_download(server, tmp_path):
    dest = tmp_path / "model.pt"
    dest.write_bytes(b"previous")
    with pytest.raises(DownloadError, match="SHA-256 .* expected 0000.*discarded"):
        download_file(f"{server}/good", dest, sha256="0" * 64, **FAST)
    assert dest.read_bytes() == b"previous" and leftovers(tmp_path) == []
    assert Handler.hits["good"] == 1  # a bad sum is not a network hiccup: no retry


def test_a_missing_file_is_not_retried_and_a_busy_server_is(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server}/missing", tmp_path / "a.pt", **FAST)
    assert Handler.hits["missing"] == 1
    with pytest.raises(DownloadError, match="HTTP 503"):
        download_file(f"{server}/busy", tmp_path / "b.pt", **{**FAST, "retries": 2})
    assert Handler.hits["busy"] == 3
    assert list(tmp_path.iterdir()) == []


def test_a_local_file_url_to_nothing_is_not_retried(tmp_path):
    tries = []

    def opener(url, timeout):
        tries.append(url)
        return urllib.request.urlopen(url, timeout=timeout)

    with pytest.raises(DownloadError, match=r"the file cannot be read \(No such file or directory\)") as err:
        download_file((tmp_path / "gone.pt").as_uri(), tmp_path / "a.pt", **{**FAST, "retries": 3}, opener=opener)
    assert len(tries) == 1 and "after" not in str(err.value)  # four tries over 16 s before
    assert list(tmp_path.iterdir()) == []


def test_download_errors_are_the_projects_errors():
    assert issubclass(DownloadError, IPainterError)


def _tiny_checkpoint() -> bytes:
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(build_unet(TINY_UNET).state_dict(), buf)
    return buf.getvalue()


def test_a_check_refuses_a_half_file_that_no_protocol_flagged(server, tmp_path):
    """Without Content-Length or chunks, a cut connection looks like the end: the checkpoint check catches it."""
    from ipainter_nb.core.download import _checks_network

    Handler.payload = _tiny_checkpoint()
    tiny = Preset("tiny", "tiny.pt", TINY_UNET, "test network")
    dest = tmp_path / "tiny.pt"
    with pytest.raises(DownloadError, match="not usable .*truncated or damaged.*discarded"):
        download_file(f"{server}/drop-unframed", dest, check=_checks_network(tiny), **FAST)
    assert list(tmp_path.iterdir()) == []
    download_file(f"{server}/good", dest, check=_checks_network(tiny), **FAST)
    assert dest.read_bytes() == Handler.payload


def test_download_weights_verifies_the_network_and_reuses_a_recorded_sum(server, tmp_path):
    with pytest.raises(DownloadError, match="not usable"):
        download_weights("imagenet256_uncond", dest_dir=tmp_path, url=f"{server}/good", **FAST)
    assert list(tmp_path.iterdir()) == []
    path = download_weights("imagenet256_uncond", dest_dir=tmp_path, url=f"{server}/good", verify=False, **FAST)
    assert path == tmp_path / "256x256_diffusion_uncond.pt" and path.read_bytes() == PAYLOAD
    # a second call finds the file with its recorded sum and does not fetch it again
    assert download_weights("imagenet256_uncond", dest_dir=tmp_path, url=f"{server}/missing", **FAST) == path
    assert "missing" not in Handler.hits


ANY_ADDRESS = "give an http://, https:// or file:// address"


@pytest.mark.parametrize("url, said", [
    ("http://[::1", f"Invalid IPv6 URL; {ANY_ADDRESS}"),  # a ValueError traceback from urlsplit
    ("http://127.0.0.1:99999/w.pt", f"Port out of range 0-65535; {ANY_ADDRESS}"),  # these three: tried 4 times first
    ("http://", f"it names no host; {ANY_ADDRESS}"),
    ("https://example.invalid/my weights.pt", "a web address holds no spaces or control characters (write a space as %20)"),
])
def test_an_address_no_fetch_can_read_is_refused_before_any_try(url, said, tmp_path, capsys):
    from ipainter_nb.cli import main

    assert main(["download", "places256", "--dest-dir", str(tmp_path / "w"), "--quiet", "--url", url]) == 2
    assert capsys.readouterr().err.splitlines() == [f"ipainter: error: cannot download from {url!r}: {said}"]
    assert not (tmp_path / "w").exists()


def test_a_download_that_fails_after_its_arguments_passed_exits_1_like_any_fault_during_a_run(server, tmp_path, capsys):
    """A fetch that fails (a server's 404) said "error" with 2, the code of a refused argument; the address
    itself was fine. Exit 2 stays for what the command refuses before it starts."""
    from ipainter_nb.cli import main

    assert main(["download", "places256", "--dest-dir", str(tmp_path / "w"), "--quiet", "--url", f"{server}/missing"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("ipainter: error: ") and "HTTP 404" in err[0]
    assert not (tmp_path / "w").exists()


def test_only_downloadable_presets_are_accepted():
    with pytest.raises(IPainterError, match="no download for 'demo'.*places256"):
        download_weights("demo")


@pytest.mark.parametrize("outcome", ["raises", "gives_up", "interrupted", "html_page"])
def test_the_google_drive_path_keeps_the_same_rules(tmp_path, monkeypatch, outcome):
    def fake_download(id, output, quiet):
        output.write(b"<html>quota exceeded</html>" if outcome == "html_page" else b"half a checkpoint")
        if outcome == "raises":
            raise RuntimeError("Too many users have viewed or downloaded this file recently")
        if outcome == "interrupted":
            raise KeyboardInterrupt
        return None if outcome == "gives_up" else output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=fake_download))
    target = tmp_path / PRESETS["places256"].filename
    target.write_bytes(b"good old weights")
    expected = KeyboardInterrupt if outcome == "interrupted" else DownloadError
    with pytest.raises(expected):
        download_weights("places256", dest_dir=tmp_path, progress=False)
    assert target.read_bytes() == b"good old weights"
    assert leftovers(tmp_path) == []


STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
WEIGHTS = PRESETS["places256"].filename


def _start_download(server: str, folder: Path, mode: str) -> subprocess.Popen:
    """``ipainter download places256`` from the test server into ``folder``, in a child process."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "ipainter_nb.cli", "download", "places256", "--url", f"{server}/{mode}",
                             "--dest-dir", str(folder), "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_part(child: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in folder.glob(f".{WEIGHTS}.*.part")):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.05)


@pytest.mark.usefixtures("terminal_signals")
@pytest.mark.parametrize("signum", STOPS, ids=[s.name for s in STOPS])
def test_a_download_stopped_by_any_signal_leaves_no_temp_file_and_the_old_file_intact(server, tmp_path, signum):
    dest = tmp_path / WEIGHTS
    dest.write_bytes(b"the good file from before")
    child = _start_download(server, tmp_path, "slow")
    try:
        _wait_for_part(child, tmp_path)
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert dest.read_bytes() == b"the good file from before"
    assert leftovers(tmp_path) == []


def test_the_next_download_removes_what_a_killed_one_left_and_says_so(server, tmp_path):
    child = _start_download(server, tmp_path, "slow")
    try:
        _wait_for_part(child, tmp_path)
        child.kill()  # SIGKILL: nothing can clean up
        child.wait(timeout=30)
    finally:
        child.kill()
    assert len(leftovers(tmp_path)) == 1
    again = _start_download(server, tmp_path, "missing")
    out, err = again.communicate(timeout=60)
    assert again.returncode != 0 and "404" in err
    assert "removed 1 half-written temporary file(s)" in out and len(out.strip().splitlines()) == 1
    assert leftovers(tmp_path) == []
