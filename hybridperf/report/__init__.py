"""Report: every rendering of a result. Owns the text / JSON formatters and table renderer
(:mod:`.text`), the HTML report (:mod:`.html`) and source annotation (:mod:`.annotate`). May
import :mod:`hybridperf.estimate` and everything below it; it computes nothing new.
"""
