"""The commands of ``ipainter``, one module each; ``ipainter_nb.cli`` parses and dispatches.

Every command checks all its arguments first (paths, model, schedule, sizes) and writes
nothing until they all pass, so a refused run leaves the file system as it found it.
"""
