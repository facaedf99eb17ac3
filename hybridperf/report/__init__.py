"""Report: every rendering of a result. Owns the one set of unit formatters and the one table
renderer (:mod:`.format`), a prediction's JSON and text views (:mod:`.text`), the views of each
command's result (:mod:`.check` with GitHub and JUnit output, :mod:`.mig`, :mod:`.devices`,
:mod:`.many`, :mod:`.probe`, :mod:`.measurement`, :mod:`.calibration`), the progress bar
(:mod:`.progress`), the HTML report (:mod:`.html`) and source annotation (:mod:`.annotate`); JSON is written
through :mod:`hybridperf.json_text` (strict JSON, no NaN or Infinity), below every layer.
May import :mod:`hybridperf.estimate` and everything below it; it computes nothing new.
"""
