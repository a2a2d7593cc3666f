// A tiny stand-in for the `express` package (get, listen, res.json), so
// the tests need no npm install. Only what the fixtures use.
const http = require("http")

module.exports = function express() {
  const routes = []
  const app = {
    get(route, handler) {
      routes.push([route, handler])
      return app
    },
    listen(port, host, ready) {
      return http
        .createServer((req, res) => {
          res.json = (body) => {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(JSON.stringify(body))
          }
          const found = routes.find(([r]) => r === req.url.split("?")[0])
          if (found) found[1](req, res)
          else {
            res.writeHead(404, { "content-type": "text/plain" })
            res.end("not found")
          }
        })
        .listen(port, host, ready)
    },
  }
  return app
}
