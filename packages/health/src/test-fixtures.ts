import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
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
/** Kills a child process and waits until it is gone. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
