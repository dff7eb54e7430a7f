import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { ServerFactory } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** An MCP server with an `echo` tool and a `slow` tool that waits `ms` (or until cancelled). */
export function fixtureServer(): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'health-fixture', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    server.registerTool('slow', { inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        extra.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { content: [{ type: 'text', text: `waited ${ms}` }] };
    });
    return server;
  };
}

export function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

export interface Probe {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

/** GETs a probe path and parses its health+json body. */
export async function probe(base: URL, path: string): Promise<Probe> {
  const response = await fetch(new URL(path, base));
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** The first result of one check in a health+json body. */
export function checkIn(body: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const checks = body['checks'] as Record<string, Array<Record<string, unknown>>> | undefined;
  return checks?.[name]?.[0];
}

/** A free TCP port on loopback (free when asked; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Starts a throwaway `redis-server` (no persistence) on `port` and resolves once it accepts connections.
 * Fails loudly when Redis cannot be started: these tests need the real thing.
 */
export async function startRedisServer(port: number): Promise<ChildProcess> {
  const bin = process.env['REDIS_SERVER'] ?? 'redis-server';
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('did not report ready within 10 s')), 10_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new Error(
          `could not start ${bin} on port ${port} (install Redis or set REDIS_SERVER to its path): ${error.message}\n${output}`,
        ),
      );
    };
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`exited with code ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        resolve();
      }
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

/** Kills a child process and waits until it is gone. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
