// `node server.js`: the example storefront on PORT (5002), asking AUTHZ_URL with AUTHZ_TOKEN.
import { createApp } from "./app.js";

const port = Number(process.env.PORT ?? 5002);
createApp().listen(port, "127.0.0.1", () => {
  console.log(`storefront on http://127.0.0.1:${port}, asking ${process.env.AUTHZ_URL}`);
});
