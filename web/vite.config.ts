import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by the payment API at /app (serving/webapp.py); built into the Python
// package so an installed SmartPay serves it too.
export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: { outDir: "../serving/webapp/dist", emptyOutDir: true },
});
