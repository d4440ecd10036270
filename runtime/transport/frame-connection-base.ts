// The handler bookkeeping every FrameConnection carrier shares (TCP, WebSocket): one frame,
// error and drain handler, close handlers run exactly once. Browser-safe.
import type { FleetError } from "../errors.js";

export abstract class FrameConnectionBase {
  protected frameHandler: (body: Uint8Array) => void = () => {};
  protected errorHandler?: (error: FleetError) => void;
  protected drainHandler: () => void = () => {};
  protected closed = false;
  private readonly closeHandlers: (() => void)[] = [];

  onFrame(handler: (body: Uint8Array) => void): void {
    this.frameHandler = handler;
  }
  onError(handler: (error: FleetError) => void): void {
    this.errorHandler = handler;
  }
  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }
  onDrain(handler: () => void): void {
    this.drainHandler = handler;
  }

  /** Marks the connection closed and runs the close handlers; false if it already was. */
  protected markClosed(): boolean {
    if (this.closed) return false;
    this.closed = true;
    for (const h of this.closeHandlers.splice(0)) h();
    return true;
  }
}
