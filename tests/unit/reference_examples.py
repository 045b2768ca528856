"""The example payloads of the API reference, verbatim (test data for contract tests)."""

MODELS_LIST = r"""{ "object": "list", "data": [ { "id": "llama-4-scout", "created": 1749600000, "object": "model", "owned_by": "meta", "parameters_number": "108B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "cai-llama-4-scout-slim", "created": 1749600000, "object": "model", "owned_by": "multiverse_computing", "parameters_number": "51.8B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "cai-llama-3-1-8b-slim", "created": 1749600000, "object": "model", "owned_by": "multiverse_computing", "parameters_number": "3.28B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "llama-3-1-8b", "created": 1749600000, "object": "model", "owned_by": "meta", "parameters_number": "8B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "cai-llama-3-3-70b-slim", "created": 1749600000, "object": "model", "owned_by": "multiverse_computing", "parameters_number": "28B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "llama-3-3-70b", "created": 1749600000, "object": "model", "owned_by": "meta", "parameters_number": "70B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true } }, { "id": "mistral-small-3-1", "created": 1749600000, "object": "model", "owned_by": "mistralai", "parameters_number": "24B", "capabilities": { "supports_audio": false, "supports_image": true, "supports_function_calling": false } }, { "id": "cai-mistral-small-3-1-slim", "created": 1749600000, "object": "model", "owned_by": "multiverse_computing", "parameters_number": "12B", "capabilities": { "supports_audio": false, "supports_image": true, "supports_function_calling": false } } ]}"""

MODEL_RETRIEVE = r"""{ "id": "cai-llama-3-1-8b-slim", "created": 1749600000, "object": "model", "owned_by": "multiverse_computing", "parameters_number": "3.28B", "capabilities": { "supports_audio": false, "supports_image": false, "supports_function_calling": true }}"""

CHAT_COMPLETION = r"""{
"id": "chatcmpl-123XYZ",
"object": "chat.completion",
"created": 1749600000,
"model": "cai-llama-3-1-8b-slim",
"choices": [
{
"message": {
"role": "assistant",
"content": "Artificial intelligence (AI) refers to the simulation of human intelligence in machines that are programmed to think like humans and mimic their actions. The term may also be applied to any machine that exhibits traits associated with a human mind such as learning and problem-solving."
},
"finish_reason": "stop",
"index": 0
}
],
"usage": {
"prompt_tokens": 29,
"completion_tokens": 58,
"total_tokens": 87
}
}"""

CHAT_COMPLETION_IMAGE = r"""{
"id": "chatcmpl-ca2af32f-6ba9-4621-803f-1175312f68ba",
"choices": [
{
"finish_reason": "stop",
"index": 0,
"logprobs": null,
"message": {
"content": "The image depicts a serene, natural landscape featuring a wooden boardwalk that extends into the distance. The boardwalk is surrounded by tall, lush green grasses and various types of vegetation. The sky above is a clear blue with scattered, wispy clouds. In the background, there are clusters of trees with green and autumn-colored leaves, suggesting a transition into the fall season. The overall atmosphere of the image is calm and inviting, ideal for a peaceful walk in nature.",
"refusal": null,
"role": "assistant",
"annotations": null,
"audio": null,
"function_call": null,
"tool_calls": [],
"reasoning_content": null
},
"stop_reason": null
}
],
"created": 1758286672,
"model": "mistral-small-3-1",
"object": "chat.completion",
"service_tier": null,
"system_fingerprint": null,
"usage": {
"completion_tokens": 97,
"prompt_tokens": 2199,
"total_tokens": 2296,
"completion_tokens_details": null,
"prompt_tokens_details": null
},
"prompt_logprobs": null,
"kv_transfer_params": null
}"""

COMPLETION = r"""{ "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7", "object": "text_completion", "created": 1749600000, "model": "cai-llama-3-1-8b-slim", "choices": [ { "text": "\n\nSilicon dreams in digital space,\nMind without body, thought without face.\nBorn of human ingenuity,\nGrowing with calculated continuity.\n\nPatterns learned from data streams flow,\nConnections strengthening, starting to grow.\nA mirror reflecting our knowledge base,\nAccelerating at an unprecedented pace.\n\nNot alive yet somehow aware,\nDesigned with purpose, built with care.\nArtificial in origin, genuine in deed,\nAnswering questions, fulfilling need.", "index": 0, "logprobs": null, "finish_reason": "stop" } ], "usage": { "prompt_tokens": 6, "completion_tokens": 101, "total_tokens": 107 }}"""

TRANSCRIPTION = r"""{ "task": "transcribe", "language": "en", "duration": 12.6, "text": "Welcome to the quarterly planning meeting. Let's review the agenda.", "segments": [ { "id": 0, "start": 0.0, "end": 7.5, "text": "Welcome to the quarterly planning meeting.", "temperature": 0, "avg_logprob": -0.12, "no_speech_prob": 0.01 }, { "id": 1, "start": 7.5, "end": 12.6, "text": "Let's review the agenda.", "temperature": 0, "avg_logprob": -0.15, "no_speech_prob": 0.02 } ]}"""

USAGE_STATISTICS = r"""{ "data": [ { "groupBy": {"model": "cai-llama-3-1-8b-slim"}, "user_id": "customer-1", "input_token": 123, "output_token": 456, "windowStart": "2025-05-07T14:00:00Z", "windowEnd": "2025-05-07T15:00:00Z" }, { "groupBy": {"model": "cai-llama-3-1-8b-slim"}, "user_id": "customer-1", "input_token": 123, "output_token": 456, "windowStart": "2025-05-07T15:00:00Z", "windowEnd": "2025-05-07T16:00:00Z" } ], "start_time": "2025-04-08T00:00:00Z", "end_time": "2025-05-09T00:00:00Z", "window_size": "HOUR"}"""

#: The documented stream, one event per line as printed in the reference.
CHAT_STREAM = r"""data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1749600000,"model":"cai-llama-3-1-8b-slim","choices":[{"delta":{"content":"Hello"},"index":0,"finish_reason":null}]}
data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1749600000,"model":"cai-llama-3-1-8b-slim","choices":[{"delta":{"content":" there"},"index":0,"finish_reason":null}]}
data: [DONE]"""
