// A TCP proxy to a lab server that can drop every connection through it at once.
import * as net from "net";

// ---------------------------------------------------------------- a proxy that drops connections

/** A TCP proxy on 127.0.0.1 to a lab server, which can drop every connection through it at once. */
export class DroppingProxy {
    private readonly server: net.Server;
    private readonly sockets = new Set<net.Socket>();
    port = 0;
    connections = 0;

    constructor(private readonly targetHost: string, private readonly targetPort: number) {
        this.server = net.createServer((client) => {
            this.connections++;
            const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
            for (const s of [client, upstream]) {
                this.sockets.add(s);
                s.on("close", () => this.sockets.delete(s));
                s.on("error", () => { client.destroy(); upstream.destroy(); });
            }
            client.pipe(upstream);
            upstream.pipe(client);
        });
    }

    async listen(): Promise<number> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.port = (this.server.address() as net.AddressInfo).port;
        return this.port;
    }

    /** Drops every connection through the proxy, as a network failure would: no FIN, a reset. */
    drop(): number {
        const n = this.sockets.size;
        for (const s of this.sockets) s.resetAndDestroy();
        return n;
    }

    async close(): Promise<void> {
        this.drop();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
