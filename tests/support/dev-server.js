#!/usr/bin/env node
// A stand-in for a frontend dev server's CLI (vite, next): installed by the
// tests as node_modules/<tool>/bin/<tool>.js so that the process table shows
// `node …/node_modules/.bin/<tool>` as for the real tool. It reads its port
// and host the way the tool does (flags, then vite.config.*) and answers
// every path with the SPA's HTML, as a dev server does.
const fs = require("fs")
const http = require("http")
const path = require("path")

const tool = path.basename(process.argv[1]).replace(/\.js$/, "")
const args = process.argv.slice(2)
let port
let host
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--port" || args[i] === "-p") port = Number(args[i + 1])
  if (args[i] === "--host" || args[i] === "-H") host = args[i + 1]
}
for (const name of ["vite.config.ts", "vite.config.js", "vite.config.mjs"]) {
  if (port) break
  try {
    const text = fs.readFileSync(name, "utf8")
    const p = text.match(/^\s*port:\s*(\d+)/m)
    const h = text.match(/^\s*host:\s*["']([^"']+)["']/m)
    if (p) port = Number(p[1])
    if (h && !host) host = h[1]
  } catch {}
}
port = port || (tool === "next" ? 3000 : 5173)
host = host || "127.0.0.1"
http
  .createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html" })
    res.end("<!doctype html><div id=app></div>")
  })
  .listen(port, host, () => console.log(`ready ${host}:${port}`))
