"""The cache-aside read side: critical events and latest readings from Redis, or Cassandra on a miss.

app.create_app builds the app (FastAPI behind the hot path for the hot GETs); server.serve runs it with uvicorn
(`smartspaces serve`).
"""
