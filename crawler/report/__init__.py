"""The crawl report's drawing: :mod:`crawler.report.charts` (the matplotlib charts, as SVG) and
:mod:`crawler.report.page` (the self-contained HTML page). The figures come from
:mod:`storage.report_data`; ``newsarchiver report`` (:mod:`crawler.cli.report_command`) writes
the page. Reads no settings.
"""
