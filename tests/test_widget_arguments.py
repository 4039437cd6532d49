"""The widgets refuse a mistyped argument at once, with one error that names it and what is allowed."""

from __future__ import annotations

import gc
import sys

import pytest

from ipainter_nb.errors import UserInputError
from ipainter_nb.widgets import Composer, Painter
from ipainter_nb.widgets.palette import Palette


@pytest.mark.parametrize("arguments, message", [
    (dict(model=123), "model must be a preset name"),
    (dict(composition=5), "composition must be an ip.Composition"),
    (dict(cutouts=5), "cutouts must be 'demo', a folder"),
    (dict(cutouts=""), "cutouts must be a folder path"),  # it read every picture of the current folder
    (dict(cutouts="no/such/folder"), "cutouts='no/such/folder' is not a folder: pass 'demo'"),  # a NotADirectoryError
    (dict(device="bogus"), "device='bogus' is not a device"),
    (dict(out_dir=5), "out_dir must be a folder path"),
    (dict(drafts="no"), "drafts must be True or False"),
    (dict(edit_pause_s=-1), "edit_pause_s=-1 is out of range"),
    (dict(edit_pause_s="fast"), "edit_pause_s must be a number"),
    (dict(edit_pause_s=1e300), "edit_pause_s=1e\\+300 is out of range"),  # the timer thread died of an overflow
    (dict(edit_pause=0.5), "Painter\\(\\) got unknown argument\\(s\\) 'edit_pause': its arguments are model, .*edit_pause_s"),
])
def test_the_painter_names_the_argument_it_refuses(arguments, message):
    with pytest.raises(UserInputError, match=message):
        Painter(**arguments)


def test_the_painter_refuses_a_save_folder_that_is_a_file_or_leads_nowhere(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(UserInputError, match="out_dir=.*notes.txt' is a file, not a folder: pass a folder"):
        Painter(out_dir=tmp_path / "notes.txt")  # it failed only at the first save, after the painting
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    with pytest.raises(UserInputError, match="out_dir='.*gone': .*gone is a symbolic link to .*missing, which does not exist"):
        Painter(out_dir=str(tmp_path / "gone"))


@pytest.mark.parametrize("arguments, message", [
    (dict(composition=5), "composition must be an ip.Composition"),
    (dict(cutouts=5), "cutouts must be 'demo', a folder"),
    (dict(max_fps=0), "max_fps=0 is out of range"),
    (dict(display_scale=-1), "display_scale=-1 is out of range"),
    (dict(display_scale=1e30), "display_scale=1e\\+30 is out of range"),  # a canvas 6e31 pixels high
    (dict(max_fsp=30), "Composer\\(\\) got unknown argument\\(s\\) 'max_fsp'"),
])
def test_the_composer_names_the_argument_it_refuses(arguments, message):
    with pytest.raises(UserInputError, match=message):
        Composer(**arguments)


@pytest.mark.parametrize("arguments, message", [
    (dict(bogus_kw=1), "Palette\\(\\) got unknown argument\\(s\\) 'bogus_kw'"),  # was only a traitlets deprecation warning
    (dict(cutouts=5), "cutouts must be 'demo', a folder"),
])
def test_the_palette_names_the_argument_it_refuses(arguments, message):
    with pytest.raises(UserInputError, match=message):
        Palette(**arguments)


def test_a_trait_of_the_box_is_still_taken():
    composer = Composer(box_style="info")
    assert composer.box_style == "info"
    composer.close()


def test_a_refused_painter_leaves_nothing_that_complains_when_collected(monkeypatch):
    complaints = []
    monkeypatch.setattr(sys, "unraisablehook", complaints.append)
    with pytest.raises(UserInputError):
        Painter(edit_pause_s=-0.5)
    gc.collect()
    assert complaints == []
