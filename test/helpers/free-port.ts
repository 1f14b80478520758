// The tests pick ports exactly as the demo does.
export { freePort } from "../../demo/network.js";
