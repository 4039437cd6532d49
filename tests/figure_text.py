"""How large a figure's text is on screen in JupyterLab, and a recorder for a notebook's kernel.

A notebook shows a matplotlib figure as a PNG of its tight bounding box at the figure's dpi
(the inline backend's ``bbox_inches="tight"``), one PNG pixel to one CSS pixel, and
JupyterLab scales a PNG wider than the output area down to the area's width. So a text of
``s`` points is ``s * dpi / 72 * min(1, OUTPUT_WIDTH_PX / png_width)`` pixels high on screen.

``install()`` runs in the kernel (the execution test puts it in an IPython startup file):
every figure the notebook displays then also carries, under the mimetype ``MIME``, its PNG
width and the size of each visible text (``record``), which the test reads back from the
executed notebook. Nothing is drawn or executed a second time.
"""

from __future__ import annotations

from typing import Any

MIME = "application/vnd.ipainter.figure-text+json"

#: The width of a notebook's output area in JupyterLab 4 on a common laptop screen: measured
#: at 934 CSS px in Chromium with a 1366 px wide window and the file browser open (250 px),
#: 848 px at 1280, 975 px at 1440 (file browser 283 px).
OUTPUT_WIDTH_PX = 934
#: The smallest text a reader is asked to read in a figure.
MIN_TEXT_PX = 10.0
#: matplotlib's padding around the tight bounding box (rcParams["savefig.pad_inches"]).
PAD_INCHES = 0.1


def record(fig: Any) -> dict[str, Any]:
    """The on-screen facts of a figure: its PNG width as the inline backend writes it, and its texts.

    Args:
        fig: a matplotlib ``Figure``.

    Returns:
        ``{"png_width": pixels, "dpi": dpi, "texts": [[text, points], ...]}`` for every
        visible, non-empty text.
    """
    from matplotlib.text import Text

    fig.canvas.draw()  # lays the figure out as the PNG will be
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    texts = [[t.get_text(), float(t.get_fontsize())] for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return {"png_width": (box.width + 2 * PAD_INCHES) * fig.dpi, "dpi": float(fig.dpi), "texts": texts}


def screen_sizes(rec: dict[str, Any], output_width: float = OUTPUT_WIDTH_PX) -> list[tuple[str, float]]:
    """Each text of a recorded figure with its height on screen in CSS pixels.

    Args:
        rec: what ``record`` gave.
        output_width: the output area's width in CSS pixels.

    Returns:
        ``(text, pixels)`` pairs.
    """
    scale = min(1.0, output_width / rec["png_width"])
    return [(text, points * rec["dpi"] / 72 * scale) for text, points in rec["texts"]]


def too_small(rec: dict[str, Any], output_width: float = OUTPUT_WIDTH_PX, minimum: float = MIN_TEXT_PX) -> list[str]:
    """The texts of a recorded figure smaller than ``minimum`` pixels on screen, described.

    Args:
        rec: what ``record`` gave.
        output_width: the output area's width in CSS pixels.
        minimum: the smallest legible text height in CSS pixels.

    Returns:
        One line per text that is too small.
    """
    return [f"{text!r} is {px:.1f} px (figure {rec['png_width']:.0f} px wide)"
            for text, px in screen_sizes(rec, output_width) if px < minimum]


def install(shell: Any = None) -> None:
    """Make every displayed matplotlib figure carry its ``record`` under ``MIME`` (in a kernel).

    Args:
        shell: the IPython shell (None: the running one).
    """
    from IPython import get_ipython
    from IPython.core.formatters import JSONFormatter

    class FigureTextFormatter(JSONFormatter):
        format_type = MIME

    # pyplot's first figure activates the inline backend, whose set-up removes every
    # formatter's printer for Figure: activate it first, so that the printer registered here stays
    import matplotlib.pyplot as plt

    plt.close(plt.figure())

    shell = shell or get_ipython()
    formatter = FigureTextFormatter(parent=shell.display_formatter)
    shell.display_formatter.formatters[MIME] = formatter
    formatter.for_type_by_name("matplotlib.figure", "Figure", record)
