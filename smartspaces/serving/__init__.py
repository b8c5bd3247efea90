"""The cache-aside read side: critical events and latest readings from Redis, or Cassandra on a miss.

app.create_app builds the FastAPI app; server.serve runs it with uvicorn (`smartspaces serve`).
"""
