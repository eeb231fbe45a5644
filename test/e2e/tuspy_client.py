"""Drives tuspy (Debian's python3-tuspy, module tusclient) for the end-to-end tests.

Usage: python3 tuspy_client.py '<json job>'

The job is a JSON object:
  endpoint    the tus creation URL (required unless "url" is given)
  file        path of the file to upload (required)
  chunk_size  bytes per PATCH (required)
  url         an existing upload URL to continue (optional)
  metadata    dict of Upload-Metadata values (optional)
  checksum    true to send Upload-Checksum (sha1) with every chunk (optional)
  chunks      upload only this many chunks with upload_chunk() (optional)
  stop_at     upload(stop_at=N): stop once the offset reaches N (optional)

Prints one JSON line: the upload URL, the offset the uploader started from (what the server reported
for an existing URL, else 0), the offset after each request, and the final offset.
"""
import json
import sys

from tusclient import client as tus_client


def main() -> int:
    job = json.loads(sys.argv[1])
    client = tus_client.TusClient(job.get("endpoint") or job["url"])
    options = {
        "file_path": job["file"],
        "chunk_size": int(job["chunk_size"]),
        "metadata": job.get("metadata") or {},
        "upload_checksum": bool(job.get("checksum", False)),
    }
    if job.get("url"):
        # Given a URL, the uploader asks the server for the offset (HEAD) as it is constructed.
        options["url"] = job["url"]
    uploader = client.uploader(**options)
    initial_offset = uploader.offset
    offsets = []

    # Record the offset the server acknowledges after every PATCH, whoever calls upload_chunk().
    upload_chunk = uploader.upload_chunk

    def recording_upload_chunk():
        upload_chunk()
        offsets.append(uploader.offset)

    uploader.upload_chunk = recording_upload_chunk

    if job.get("chunks") is not None:
        for _ in range(int(job["chunks"])):
            uploader.upload_chunk()
    elif job.get("stop_at") is not None:
        uploader.upload(stop_at=int(job["stop_at"]))
    else:
        uploader.upload()

    print(json.dumps({
        "url": uploader.url,
        "initial_offset": initial_offset,
        "offsets": offsets,
        "offset": uploader.offset,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
