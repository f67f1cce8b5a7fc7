"""Web service and page (FastAPI): `deepfake-lab serve`."""
