"""Lambda: Invoke and S3 notifications run the handler from its deployed package.

``spec`` (configuration, event and destination records, log lines) · ``bootstrap`` (the execution
environment's process) · ``worker`` (one environment) · ``executor`` (pool, async queue) · ``patches``
(moto's API).
"""
