"""What the code interpreter's /execute streams: Jupyter kernel messages as E2B's NDJSON lines.

Pure functions (standard library only), so that they are tested without a kernel. The shapes are
those `@e2b/code-interpreter` reads (messaging.ts: parseOutput): one JSON object per line, told
apart by `type`; types it does not know (`keepalive`) it ignores.
"""
import json
import math

# Jupyter's MIME types under the names E2B's Result has for them. A type not listed keeps its
# MIME name, which the SDK files under Result.extra.
MIME_KEYS = {
    'text/plain': 'text',
    'text/html': 'html',
    'text/markdown': 'markdown',
    'image/svg+xml': 'svg',
    'image/png': 'png',
    'image/jpeg': 'jpeg',
    'application/pdf': 'pdf',
    'text/latex': 'latex',
    'application/json': 'json',
    'application/javascript': 'javascript',
    'e2b/data': 'data',
}

# Keys a result line has besides its formats; a format must not overwrite them, and the SDK drops
# a key named `extra`.
RESERVED_KEYS = {'type', 'is_main_result', 'extra'}

END_OF_EXECUTION = {'type': 'end_of_execution'}
KEEPALIVE = {'type': 'keepalive'}


def result_line(bundle, is_main_result):
    """An `execute_result` (the cell's value: main) or `display_data` (a chart, a table) bundle."""
    line = {'type': 'result'}
    for mime, value in bundle.items():
        key = MIME_KEYS.get(mime, mime)
        if key in RESERVED_KEYS:
            continue
        if key == 'text' and isinstance(value, str):
            value = unquoted(value)
        line[key] = value
    line['is_main_result'] = is_main_result
    return line


def unquoted(text):
    """A string's repr without its one pair of single quotes (`'/tmp'` is shown as `/tmp`)."""
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1]
    return text


def stream_line(content, timestamp):
    """A `stream` message: what the code printed, on stdout or stderr."""
    return {'type': 'stderr' if content.get('name') == 'stderr' else 'stdout', 'text': content.get('text', ''), 'timestamp': timestamp}


def error_line(content):
    """An `error` message (or an `execute_reply` with status error): the exception, not thrown."""
    traceback = content.get('traceback') or []
    return {
        'type': 'error',
        'name': str(content.get('ename', '')),
        'value': str(content.get('evalue', '')),
        'traceback': '\n'.join(str(t) for t in traceback),
    }


def bridge_error_line(name, value):
    """An error the bridge reports itself (the kernel died, the context was restarted)."""
    return {'type': 'error', 'name': name, 'value': value, 'traceback': ''}


def execution_count_line(count):
    return {'type': 'number_of_executions', 'execution_count': count}


def line_for(message):
    """The NDJSON line for one IOPub message of an execution, or None for those not reported."""
    kind = message['header']['msg_type']
    content = message['content']
    if kind == 'stream':
        date = message['header'].get('date')
        return stream_line(content, date.isoformat() if hasattr(date, 'isoformat') else date)
    if kind == 'execute_result':
        return result_line(content.get('data', {}), True)
    if kind == 'display_data':
        return result_line(content.get('data', {}), False)
    if kind == 'error':
        return error_line(content)
    if kind == 'execute_input':
        return execution_count_line(content.get('execution_count'))
    return None


def ndjson(line):
    """One line of strict JSON ending in a newline: never blank, never NaN or Infinity (which
    JavaScript's JSON.parse refuses), never a raw non-ASCII byte that could split badly."""
    try:
        text = json.dumps(line, allow_nan=False, separators=(',', ':'))
    except ValueError:
        text = json.dumps(finite(line), allow_nan=False, separators=(',', ':'))
    return text + '\n'


def finite(value):
    """The value with NaN and infinities as null, as JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def environment_code(variables, restore):
    """Kernel code that sets `variables` in os.environ, then sets `restore`'s keys back to their
    values (None: removes them). A literal (repr) of strings only, ending in `;` so that the
    kernel displays nothing; it binds no name in the user's namespace."""
    put = {k: v for k, v in restore.items() if v is not None}
    put.update(variables)
    drop = sorted(k for k, v in restore.items() if v is None and k not in variables)
    return f"__import__('os').environ.update({put!r}); [__import__('os').environ.pop(k, None) for k in {drop!r}];"


def environment_problem(variables):
    """Why these cannot be environment variables, or None."""
    if not isinstance(variables, dict):
        return 'env_vars must be an object of strings'
    for key, value in variables.items():
        if not isinstance(value, str):
            return f'env_vars.{key} must be a string'
        if not key or '=' in key or '\0' in key or '\0' in value:
            return f'{key!r} cannot be an environment variable (empty, or with "=" or a NUL byte)'
    return None
