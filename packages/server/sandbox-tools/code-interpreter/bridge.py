#!/usr/bin/python3
"""The code interpreter of a `code-interpreter` sandbox: E2B's /execute and /contexts over HTTP,
each context one IPython kernel (ipykernel, driven with jupyter_client; no notebook server).

burrow runs this as the sandbox's `code-interpreter` service, as the sandbox user, listening on
127.0.0.1:49999 (E2B's Jupyter port, which `@e2b/code-interpreter` addresses). A kernel keeps
its variables from one /execute to the next until its context is restarted or deleted, or the
sandbox stops (cold sleep, daemon restart): kernels live in memory only.

Wire shapes: shared/spec/e2b-api.md §5. Errors are plain text, as the SDK shows the body of a
404 as it is (NotFoundError) and reads only the status of the others.
"""
import argparse
import asyncio
import json
import os
import queue
import signal
import uuid

from jupyter_client.manager import AsyncKernelManager
from tornado import httpserver, web
from tornado.iostream import StreamClosedError

import messages

DEFAULT_CWD = '/home/user'
LANGUAGES = {'python': 'python3', 'python3': 'python3'}
KERNEL_READY_TIMEOUT_S = 120
# How often a running execution looks at its kernel (alive? restarted under it?).
POLL_S = 1.0
# Under the 300 s after which undici (the SDK's fetch) gives up on a silent body, with room to
# spare for proxies between.
KEEPALIVE_S = 30.0


class Context:
    """One kernel, its working directory, and the one execution it runs at a time."""

    def __init__(self, language, cwd):
        self.id = str(uuid.uuid4())
        self.language = language
        self.cwd = cwd
        self.manager = AsyncKernelManager(kernel_name=LANGUAGES[language])
        self.client = None
        self.lock = asyncio.Lock()
        # The `emit` of the execution running now, or None.
        self.running = None
        # Set while an execution runs: why it must end now (a restart, a delete), or None.
        self.interrupted_because = None
        self.ready = asyncio.get_running_loop().create_future()

    def describe(self):
        return {'id': self.id, 'language': self.language, 'cwd': self.cwd}

    async def start(self):
        try:
            # The kernel gets the bridge's environment: the sandbox's own, which burrow gives
            # every process there (E2B's create-time envVars among it).
            await self.manager.start_kernel(cwd=self.cwd, env=dict(os.environ))
            self.client = self.manager.client()
            self.client.start_channels()
            await self.client.wait_for_ready(timeout=KERNEL_READY_TIMEOUT_S)
            self.ready.set_result(None)
        except Exception as e:  # noqa: BLE001 - reported to every request that needs the kernel
            self.ready.set_exception(RuntimeError(f'the {self.language} kernel did not start: {e}'))
            self.ready.exception()  # retrieved here too: nobody may ask

    async def restart(self):
        await self.manager.restart_kernel(now=True)
        await self.client.wait_for_ready(timeout=KERNEL_READY_TIMEOUT_S)

    async def stop(self):
        if self.client:
            self.client.stop_channels()
        if self.manager.has_kernel:
            await self.manager.shutdown_kernel(now=True)

    async def execute(self, code, env_vars, emit):
        """Runs `code`, calling `emit(line)` for each NDJSON line (the last: end_of_execution)."""
        await self.ready
        async with self.lock:
            self.interrupted_because = None
            self.running = emit
            restore = {k: os.environ.get(k) for k in env_vars}
            if env_vars:
                await self.run_quietly(messages.environment_code(env_vars, {}))
            try:
                await self.follow(self.client.execute(code, store_history=True, allow_stdin=False, stop_on_error=True), emit)
            finally:
                self.running = None
                self.interrupted_because = None
                if env_vars and await self.manager.is_alive():
                    await self.run_quietly(messages.environment_code({}, restore))
        await emit(messages.END_OF_EXECUTION)

    async def follow(self, msg_id, emit):
        """Relays what the kernel publishes for `msg_id` until it is idle again."""
        loop = asyncio.get_running_loop()
        last_line_at = loop.time()
        errored = False
        while True:
            if self.interrupted_because:
                await emit(messages.bridge_error_line('ContextRestarting', self.interrupted_because))
                return
            try:
                message = await self.client.get_iopub_msg(timeout=POLL_S)
            except Exception as e:  # noqa: BLE001 - the channels closed under a delete
                if not isinstance(e, queue.Empty) and not self.interrupted_because:
                    raise
                if self.interrupted_because:
                    continue
                if not await self.manager.is_alive():
                    await emit(messages.bridge_error_line('KernelDied', 'the kernel exited during the execution; its variables are lost, and a new kernel runs the next code'))
                    await self.restart()
                    return
                if loop.time() - last_line_at >= KEEPALIVE_S:
                    last_line_at = loop.time()
                    await emit(messages.KEEPALIVE)
                continue
            if message['parent_header'].get('msg_id') != msg_id:
                continue
            kind = message['header']['msg_type']
            if kind == 'status' and message['content'].get('execution_state') == 'idle':
                return
            line = messages.line_for(message)
            if line is None or (line['type'] == 'error' and errored):
                continue
            errored = errored or line['type'] == 'error'
            last_line_at = loop.time()
            await emit(line)

    async def run_quietly(self, code):
        """Bridge code in the kernel: not counted, not shown, not in the user's history."""
        msg_id = self.client.execute(code, silent=True, store_history=False, allow_stdin=False)
        while True:
            try:
                message = await self.client.get_iopub_msg(timeout=KERNEL_READY_TIMEOUT_S)
            except queue.Empty:
                return
            if message['parent_header'].get('msg_id') == msg_id and message['header']['msg_type'] == 'status' and message['content'].get('execution_state') == 'idle':
                return


class Contexts:
    def __init__(self):
        self.by_id = {}
        self.default = None

    def create(self, language, cwd):
        context = Context(language, cwd)
        self.by_id[context.id] = context
        # Held, as the event loop keeps only a weak reference to a task.
        context.starting = asyncio.get_running_loop().create_task(context.start())
        return context

    def default_context(self):
        """The context of /execute calls that name none; made again if it was deleted."""
        if self.default is None or self.default.id not in self.by_id:
            self.default = self.create('python', DEFAULT_CWD)
        return self.default

    async def remove(self, context):
        del self.by_id[context.id]
        context.interrupted_because = 'the context was deleted'
        try:
            await context.ready
        except RuntimeError:
            pass  # its kernel never ran: nothing more to stop than what stop() tries
        await context.stop()


class Handler(web.RequestHandler):
    def initialize(self, contexts):
        self.contexts = contexts

    def refuse(self, status, text):
        self.set_status(status)
        self.set_header('Content-Type', 'text/plain; charset=utf-8')
        self.finish(text)

    def body(self):
        """The JSON object sent, or None once a 400 was answered."""
        try:
            body = json.loads(self.request.body or b'{}')
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.refuse(400, 'the body must be a JSON object')
            return None
        return body

    def language_of(self, body):
        language = body.get('language') or 'python'
        if not isinstance(language, str) or language.lower() not in LANGUAGES:
            self.refuse(400, f'language {language!r} is not available here: this sandbox runs Python kernels (language "python")')
            return None
        return 'python'

    def context_named(self, context_id):
        context = self.contexts.by_id.get(context_id)
        if context is None:
            self.refuse(404, f'Context {context_id} not found')
        return context

    async def kernel_started(self, context):
        """Waits for the context's kernel; False once a 502 was answered because it never started."""
        try:
            await context.ready
        except RuntimeError as e:
            self.refuse(502, str(e))
            return False
        return True

    def write_error(self, status_code, **kwargs):
        self.set_header('Content-Type', 'text/plain; charset=utf-8')
        self.finish(self._reason)


class Execute(Handler):
    running_in = None
    gone = False

    async def post(self):
        body = self.body()
        if body is None:
            return
        code = body.get('code')
        context_id = body.get('context_id')
        env_vars = body.get('env_vars') or {}
        if not isinstance(code, str):
            return self.refuse(400, 'code must be a string')
        if context_id is not None and body.get('language') is not None:
            return self.refuse(400, 'Only one of context_id or language can be provided')
        problem = messages.environment_problem(env_vars)
        if problem:
            return self.refuse(400, problem)
        if context_id is not None:
            context = self.context_named(context_id)
        elif self.language_of(body) is not None:
            context = self.contexts.default_context()
        else:
            return
        if context is None or not await self.kernel_started(context):
            return
        self.set_header('Content-Type', 'application/x-ndjson')
        self.running_in = context
        await context.execute(code, env_vars, self.emit)
        if not self.gone:
            self.finish()

    async def emit(self, line):
        if self.gone:
            return
        self.write(messages.ndjson(line))
        try:
            await self.flush()
        except StreamClosedError:
            self.on_connection_close()

    def on_connection_close(self):
        # The caller gave up (its timeoutMs): its code is interrupted, as nobody reads it any more
        # and the next execution in the context would wait behind it.
        if self.gone:
            return
        self.gone = True
        if self.running_in is not None and self.running_in.running == self.emit:
            self.interrupting = asyncio.get_running_loop().create_task(self.running_in.manager.interrupt_kernel())


class ContextList(Handler):
    async def get(self):
        self.write(json.dumps([c.describe() for c in self.contexts.by_id.values()]))

    async def post(self):
        body = self.body()
        if body is None:
            return
        language = self.language_of(body)
        if language is None:
            return
        cwd = body.get('cwd') or DEFAULT_CWD
        if not isinstance(cwd, str) or not os.path.isabs(cwd) or not os.path.isdir(cwd):
            return self.refuse(400, f'cwd {cwd!r} is not an absolute path to a directory in the sandbox')
        context = self.contexts.create(language, cwd)
        if not await self.kernel_started(context):
            del self.contexts.by_id[context.id]
            return
        self.set_header('Content-Type', 'application/json')
        self.write(json.dumps(context.describe()))


class ContextItem(Handler):
    async def delete(self, context_id):
        context = self.context_named(context_id)
        if context is None:
            return
        await self.contexts.remove(context)
        self.set_status(204)


class ContextRestart(Handler):
    async def post(self, context_id):
        context = self.context_named(context_id)
        if context is None or not await self.kernel_started(context):
            return
        if context.lock.locked():
            context.interrupted_because = 'the context was restarted'
        await context.restart()
        self.set_status(204)


class Health(Handler):
    async def get(self):
        self.finish('OK')


class NotFound(Handler):
    def prepare(self):
        self.refuse(404, f'no such endpoint: {self.request.method} {self.request.path}')


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=49999)
    args = parser.parse_args()
    contexts = Contexts()
    contexts.default_context()
    deps = {'contexts': contexts}
    app = web.Application(
        [
            (r'/execute', Execute, deps),
            (r'/contexts', ContextList, deps),
            (r'/contexts/([^/]+)', ContextItem, deps),
            (r'/contexts/([^/]+)/restart', ContextRestart, deps),
            (r'/health', Health, deps),
        ],
        default_handler_class=NotFound,
        default_handler_args=deps,
    )
    server = httpserver.HTTPServer(app, idle_connection_timeout=3600, body_timeout=3600)
    server.listen(args.port, args.host)
    print(f'code interpreter listening on {args.host}:{args.port}', flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    server.stop()
    for context in list(contexts.by_id.values()):
        await context.stop()


if __name__ == '__main__':
    asyncio.run(main())
