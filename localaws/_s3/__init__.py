"""S3: moto serves it; the runtime only makes conditional writes atomic.

``executor`` (the per-key locks) · ``patches`` (moto's API).
"""
