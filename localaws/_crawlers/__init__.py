"""Glue crawlers: StartCrawler catalogs the data under each S3 target.

``spec`` (pure decisions) · ``crawl`` (one crawl's I/O) · ``executor`` (threads, history) · ``patches``
(moto's API).
"""
