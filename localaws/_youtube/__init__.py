"""A stand-in of the YouTube Data API v3 (``videos.list`` charts, ``videoCategories.list``), recorded days.

data.py       the recording: each region's chart per trending day, built from rsrishav-style CSVs, and the
              category files
resources.py  Google's resource shapes: a video item from a recorded row, list responses, page tokens
errors.py     Google's error bodies (``{"error": {"code", "message", "errors", "status"}}``)
standin.py    the stand-in's state: clock, keys, quota per key and day, faults, call log; request handling
wsgi.py       the HTTP face: the API and control routes in front of the runtime's server, fault transport
"""
