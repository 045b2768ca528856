"""Constants shared by the local server's tests."""

from __future__ import annotations

from pathlib import Path

API_KEY = "test-key-local-1"
OTHER_KEY = "test-key-local-2"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHAT_MODEL = "smollm2-135m-instruct"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "the city name"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current local time in a time zone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
