"""Named public datasets: where they live in the data folder, where to download them, checksums.

``find_dataset`` looks in the data folder (``POLLWATCH_DATA``); ``fetch_dataset`` downloads
a file, checks its SHA-256 and only then moves it into place, so that a broken download
never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pollwatch.errors import InputError, NotFoundError, PollwatchError

__all__ = ["DATASETS", "Dataset", "fetch_dataset", "find_dataset"]

_DKOBAK = "https://github.com/dkobak/elections/raw/master/data/"


@dataclass(frozen=True)
class Dataset:
    """A public results file: name, path in the data folder, download URL and checksum."""

    name: str
    path: str
    sha256: str
    title: str
    url: str | None = None
    format: str = "auto"


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "ru-2004",
            "ru/2004.csv.zip",
            "dc28d05966d4e8845d8db5f470d8a2a123a5373d3668111265b5c282352f5298",
            "Russia, presidential election 2004",
            _DKOBAK + "2004.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2007",
            "ru/2007.csv.zip",
            "11fe1fc48857a274959843aeb731b7f0e622c6120530e9488f7326c2c1258e2b",
            "Russia, State Duma election 2007",
            _DKOBAK + "2007.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2008",
            "ru/2008.csv.zip",
            "3177252f9c3391d739fa6f495c7669570475f848433a2bcea1b7a51c86e078ea",
            "Russia, presidential election 2008",
            _DKOBAK + "2008.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2011",
            "ru/2011.csv.zip",
            "fd8aeceeebe92664872cf6fcaa43a11c2bf3f4914d9667bbd9bf2df6972cbd8f",
            "Russia, State Duma election 2011",
            _DKOBAK + "2011.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2012",
            "ru/2012.csv.zip",
            "01e1a3296ecbaef2aafcbfda72dfdd7dcde86442a5a8715b1f7b978a99331590",
            "Russia, presidential election 2012",
            _DKOBAK + "2012.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2016",
            "ru/2016.csv.zip",
            "f07c07126f3c5bfc8958a1efad9532df44d1a94e13013ca2c2574827e28e13b2",
            "Russia, State Duma election 2016",
            _DKOBAK + "2016.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2018",
            "ru/2018.csv.zip",
            "0ecfa337c877a2db52c99460307ea153b9e3a33810811685a1e92e8154287176",
            "Russia, presidential election 2018",
            _DKOBAK + "2018.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2020",
            "ru/2020.csv.zip",
            "1ec41f7065133142792bd96589991c90aa465b7d5b89c9496c05b8b97131011e",
            "Russia, constitutional vote 2020",
            _DKOBAK + "2020.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "ru-2024",
            "ru/2024.csv.zip",
            "d4a18472d021efac9c269819a5b0e801daca1e486a7f48fc3981b4b241907313",
            "Russia, presidential election 2024",
            _DKOBAK + "2024.csv.zip",
            "ru-cik",
        ),
        Dataset(
            "uganda-2011",
            "uganda/2011-results.csv.gz",
            "a500cb04d6bab1bbd66e9de7e140efba0025acb6a4ccd4908a3db051d734c88e",
            "Uganda, presidential election 2011 (bt-IRI/UEDP)",
            None,
            "uganda",
        ),
        Dataset(
            "uganda-2016",
            "uganda/2016-results.csv.gz",
            "a32d59fb54061871a9f9fbf900968801c6ba97e4a6fdba9afdc91dff1ad99e04",
            "Uganda, presidential election 2016 (bt-IRI/UEDP)",
            None,
            "uganda",
        ),
    )
}


def _dataset(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise NotFoundError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}"
        ) from None


def find_dataset(name: str, data_dir: Path) -> Path | None:
    """The dataset's file in ``data_dir``, or ``None`` if it is not there."""
    path = data_dir / _dataset(name).path
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_dataset(
    name: str, data_dir: Path, *, url: str | None = None, timeout: float = 60
) -> Path:
    """Download a dataset into ``data_dir`` unless a file with the right checksum is there.

    ``url`` overrides the dataset's address (a mirror). Raises :class:`PollwatchError` when
    the download fails or the checksum does not match; nothing is left half-written.
    """
    ds = _dataset(name)
    target = data_dir / ds.path
    if target.is_file() and _sha256(target) == ds.sha256:
        return target
    source = url or ds.url
    if source is None:
        raise NotFoundError(
            f"{name} cannot be downloaded automatically; place {ds.path} in {data_dir} "
            "(see docs/data.md for its source)"
        )
    if not source.startswith(("https://", "http://", "file://")):
        raise InputError(f"unsupported URL {source!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        digest = _sha256(tmp)
        if digest != ds.sha256:
            raise PollwatchError(
                f"checksum mismatch for {name}: expected {ds.sha256}, got {digest}; file discarded"
            )
        tmp.replace(target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise PollwatchError(f"cannot download {name} from {source}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target
