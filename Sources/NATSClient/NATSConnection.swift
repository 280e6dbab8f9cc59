import NIOCore
import NIOPosix
import Synchronization

/// A client connection to a NATS server (the core protocol: docs/NATS.md), on SwiftNIO.
///
/// Publications are written as they are made and flushed once per turn of the event loop
/// (many publications, one system call). A lost connection is reconnected with backoff:
/// subscriptions are made again with the same ids, publications made meanwhile are kept (up
/// to `reconnectBufferBytes`) and sent once connected. What happens is told on `events`.
public final class NATSConnection: Sendable {
    public let options: NATSOptions
    /// Disconnections, reconnections, slow consumers, server errors (the latest 256 kept for
    /// a reader that is behind).
    public let events: AsyncStream<NATSEvent>
    private let eventSink: AsyncStream<NATSEvent>.Continuation
    private let state = Mutex(State())
    private let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// The prefix of this connection's reply subjects (`_INBOX.<random>.`).
    private let inboxPrefix = "_INBOX." + randomToken() + "."

    private enum Phase { case connecting, connected, reconnecting, closed }

    private struct State {
        var phase = Phase.connecting
        var channel: (any Channel)?
        /// Which connection of this client the channel is (stale events of an older one are ignored).
        var generation = 0
        var info: NATSServerInfo?
        var nextSid: UInt64 = 1
        var subscriptions: [UInt64: NATSSubscription] = [:]
        /// Bytes written while not connected, sent after the next CONNECT.
        var pending = ByteBuffer()
        /// Bytes for the connected channel, from any thread, written and flushed together by
        /// one task on its event loop (a write from another thread is a task of its own, which
        /// a flush scheduled before it would miss).
        var outbound = ByteBuffer()
        var flushScheduled = false
        /// Who waits for the next PONGs, in order (nil: a keep-alive PING, or a flush that
        /// timed out), each with its number.
        var pongWaiters: [(id: Int, waiter: CheckedContinuation<Void, any Error>)?] = []
        var nextWaiter = 0
        /// The handshake's PONG came: the connection is in use.
        var established = false
        var everEstablished = false
        var reconnectLoop = false
        var pingsOut = 0
        var pingTask: RepeatedTask?
        var inboxSid: UInt64?
        var requests: [String: (subject: String, waiter: CheckedContinuation<NATSMessage, any Error>)] = [:]
        var nextRequest = 0
        var statistics = NATSStatistics()
    }
    private let droppedTotal = Atomic<Int>(0)

    private init(options: NATSOptions) {
        self.options = options
        (events, eventSink) = AsyncStream<NATSEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// Connects (INFO, CONNECT, PING, PONG) or throws; reconnects later by itself.
    public static func connect(_ options: NATSOptions) async throws -> NATSConnection {
        let c = NATSConnection(options: options)
        do {
            try await c.open()
        } catch {
            await c.close()
            throw error
        }
        return c
    }

    /// What the server said of itself when this connection was made.
    public var serverInfo: NATSServerInfo? { state.withLock { $0.info } }
    public var statistics: NATSStatistics {
        var st = state.withLock { $0.statistics }
        st.dropped = droppedTotal.load(ordering: .relaxed)
        return st
    }
    public var isConnected: Bool { state.withLock { $0.phase == .connected } }

    // MARK: publishing and subscribing

    /// Publishes `payload` to `subject` (HPUB when there are headers).
    public func publish(_ subject: String, payload: ByteBuffer, reply: String? = nil, headers: NATSHeaders? = nil) throws(NATSError) {
        try NATSClientOp.checkPublishSubject(subject)
        if let reply { try NATSClientOp.checkPublishSubject(reply) }
        let max = state.withLock { $0.info?.maxPayload } ?? (1 << 20)
        let size = payload.readableBytes + (try headers?.encoded().count ?? 0)
        guard size <= max else { throw .payloadTooLarge(size: size, max: max) }
        try send(.publish(subject: subject, reply: reply, headers: headers, payload: payload), counting: size)
    }

    public func publish(_ subject: String, bytes: [UInt8], reply: String? = nil, headers: NATSHeaders? = nil) throws(NATSError) {
        try publish(subject, payload: ByteBuffer(bytes: bytes), reply: reply, headers: headers)
    }

    /// Subscribes to `subject` (`*` and `>` wildcards), in a queue group if `queue` is given
    /// (each message goes to one member of the group); ended by the server after `max`
    /// messages if given.
    public func subscribe(_ subject: String, queue: String? = nil, max: Int? = nil) throws(NATSError) -> NATSSubscription {
        try subscribe(subject, queue: queue, max: max, sink: nil)
    }

    /// Subscribes to `subject` with its messages delivered into `sink`'s sequence, so that
    /// the messages of several subscriptions are taken in the order the server sent them
    /// (one consumer, one bound: `sink`'s). Unsubscribing the returned subscription stops its
    /// subject only; `sink` goes on. `sink` must be a subscription of this connection
    /// without a maximum.
    public func subscribe(_ subject: String, queue: String? = nil, into sink: NATSSubscription) throws(NATSError) -> NATSSubscription {
        precondition(sink.maxMessages == nil && sink.sink == nil && sink.connection === self, "a sink is a plain subscription of this connection")
        return try subscribe(subject, queue: queue, max: nil, sink: sink)
    }

    /// Subscribes to `subject` with each message handed to `handler` on the connection's
    /// event loop as it is read (no queue, no task hop): the handler must be quick, and bound
    /// what it keeps; when it returns false the message counts as dropped and a slow
    /// consumer is reported, as for a sequence over its bound. Its sequence stays empty.
    public func subscribe(_ subject: String, queue: String? = nil, handler: @escaping @Sendable (NATSMessage) -> Bool) throws(NATSError) -> NATSSubscription {
        try subscribe(subject, queue: queue, max: nil, sink: nil, handler: handler)
    }

    private func subscribe(_ subject: String, queue: String?, max: Int?, sink: NATSSubscription?,
                           handler: (@Sendable (NATSMessage) -> Bool)? = nil) throws(NATSError) -> NATSSubscription {
        try NATSClientOp.checkSubscribeSubject(subject)
        if let queue { try NATSClientOp.checkQueue(queue) }
        // Registered and sent under one lock: a reconnect in between would send it twice.
        let result = state.withLock { s -> Result<NATSSubscription, NATSError> in
            let sid = s.nextSid
            s.nextSid += 1
            let sub = NATSSubscription(sid: sid, subject: subject, queue: queue, maxMessages: max,
                                       limits: (options.pendingMessages, options.pendingBytes), connection: self, sink: sink, handler: handler)
            var ops = [NATSClientOp.subscribe(subject: subject, queue: queue, sid: sid)]
            if let max { ops.append(.unsubscribe(sid: sid, max: max)) }
            if let error = write(Self.encode(ops), in: &s, keep: false) { return .failure(error) }
            s.subscriptions[sid] = sub
            return .success(sub)
        }
        return try result.get()
    }

    func unsubscribe(_ sub: NATSSubscription) {
        state.withLock { s in
            if s.subscriptions.removeValue(forKey: sub.sid) != nil {
                _ = write(Self.encode([.unsubscribe(sid: sub.sid, max: nil)]), in: &s, keep: false)
            }
        }
        sub.finish()
    }

    /// Publishes a request and waits for the first reply (on this connection's inbox).
    /// Throws `noResponders` at once when nobody subscribes to `subject`, `timeout` after
    /// `seconds`.
    public func request(_ subject: String, payload: ByteBuffer, headers: NATSHeaders? = nil, timeout seconds: Double = 5) async throws -> NATSMessage {
        try NATSClientOp.checkPublishSubject(subject)
        let token = state.withLock { s -> String in
            s.nextRequest += 1
            if s.inboxSid == nil {
                s.inboxSid = s.nextSid
                s.nextSid += 1
                _ = write(Self.encode([.subscribe(subject: inboxPrefix + "*", queue: nil, sid: s.inboxSid!)]), in: &s, keep: false)
            }
            return "\(s.nextRequest)"
        }
        let reply = inboxPrefix + token
        let loop = group.next()
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<NATSMessage, any Error>) in
            state.withLock { $0.requests[token] = (subject, c) }
            let timer = loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in
                let waiting = state.withLock { $0.requests.removeValue(forKey: token) }
                waiting?.waiter.resume(throwing: NATSError.timeout("no reply to a request on \(subject) within \(seconds) s"))
            }
            do {
                try publish(subject, payload: payload, reply: reply, headers: headers)
            } catch {
                timer.cancel()
                let waiting = state.withLock { $0.requests.removeValue(forKey: token) }
                waiting?.waiter.resume(throwing: error)
            }
        }
    }

    /// Waits until the server has processed everything sent before (a PING answered). While
    /// the connection is being re-established (publications are kept for it), it waits for the
    /// reconnect, within the same timeout, instead of failing.
    public func flush(timeout seconds: Double = 10) async throws {
        let deadline = ContinuousClock.now + .nanoseconds(Int64(seconds * 1e9))
        while true {
            let d = (deadline - ContinuousClock.now).components
            let left = Double(d.seconds) + Double(d.attoseconds) / 1e18
            do {
                try await pingOnce(timeout: max(left, 0.001))
                return
            } catch let error as NATSError {
                switch error {
                case .closed, .cannotConnect: break
                default: throw error
                }
                let reconnecting = state.withLock { $0.phase == .reconnecting || ($0.phase == .connected && !$0.established) }
                // Given up (or out of time): the error that ended the last try, with its reason.
                guard reconnecting, ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    private func pingOnce(timeout seconds: Double) async throws {
        let loop = group.next()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let id: Int? = state.withLock { s in
                guard s.phase == .connected, s.established, let channel = s.channel else { return nil }
                s.nextWaiter += 1
                s.pongWaiters.append((s.nextWaiter, c))
                _ = channel
                _ = write(Self.encode([.ping]), in: &s, keep: false)
                return s.nextWaiter
            }
            guard let id else { c.resume(throwing: NATSError.closed); return }
            _ = loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [self] in
                let late = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                    guard let k = s.pongWaiters.firstIndex(where: { $0?.id == id }) else { return nil }
                    defer { s.pongWaiters[k] = nil }
                    return s.pongWaiters[k]?.waiter
                }
                late?.resume(throwing: NATSError.timeout("no PONG within \(seconds) s"))
            }
        }
    }

    /// Closes for good: subscriptions end, waiting requests and flushes fail.
    public func close() async {
        let (channel, subs, waiters, requests) = state.withLock { s in
            s.phase = .closed
            s.pingTask?.cancel()
            defer { s.subscriptions = [:]; s.pongWaiters = []; s.requests = [:]; s.channel = nil }
            return (s.channel, Array(s.subscriptions.values), s.pongWaiters, Array(s.requests.values))
        }
        for sub in subs { sub.finish() }
        for w in waiters { w?.waiter.resume(throwing: NATSError.closed) }
        for r in requests { r.waiter.resume(throwing: NATSError.closed) }
        try? await channel?.close()
        eventSink.yield(.closed)
        eventSink.finish()
    }

    // MARK: writing

    private static func encode(_ ops: [NATSClientOp]) -> ByteBuffer {
        var out = ByteBuffer()
        // Only publications with headers can fail to encode, and they are checked before.
        for op in ops { try? op.write(into: &out) }
        return out
    }

    private func send(_ op: NATSClientOp, counting size: Int) throws(NATSError) {
        let bytes = Self.encode([op])
        let error = state.withLock { s -> NATSError? in
            let e = write(bytes, in: &s, keep: true)
            if e == nil { s.statistics.messagesOut += 1; s.statistics.bytesOut += size }
            return e
        }
        if let error { throw error }
    }

    /// Writes bytes to the connection (flushed once per turn of its event loop), or, while
    /// reconnecting, keeps them for the next connection (`keep`; subscriptions are not kept:
    /// they are all made again on reconnect anyway). Called with the state locked.
    private func write(_ bytes: ByteBuffer, in s: inout State, keep: Bool) -> NATSError? {
        switch s.phase {
        case .closed:
            return .closed
        case .connected:
            guard let channel = s.channel else { return .closed }
            var b = bytes
            s.outbound.writeBuffer(&b)
            scheduleFlush(channel, in: &s)
        case .connecting, .reconnecting:
            guard keep else { return nil }
            guard s.pending.readableBytes + bytes.readableBytes <= options.reconnectBufferBytes else {
                return .reconnectBufferFull(limit: options.reconnectBufferBytes)
            }
            var b = bytes
            s.pending.writeBuffer(&b)
        }
        return nil
    }

    /// One task on the channel's loop writes and flushes what is in `outbound` by then.
    private func scheduleFlush(_ channel: any Channel, in s: inout State) {
        guard !s.flushScheduled else { return }
        s.flushScheduled = true
        channel.eventLoop.execute { [self] in
            let (out, next) = state.withLock { s -> (ByteBuffer?, (any Channel)?) in
                s.flushScheduled = false
                guard s.outbound.readableBytes > 0 else { return (nil, nil) }
                // The connection was replaced meanwhile: the new one's loop sends them.
                guard s.channel === channel else { return (nil, s.channel) }
                defer { s.outbound = ByteBuffer() }
                return (s.outbound, nil)
            }
            if let out { channel.writeAndFlush(out, promise: nil) }
            if let next { state.withLock { s in if s.channel === next { scheduleFlush(next, in: &s) } } }
        }
    }

    // MARK: connecting

    /// One connection: TCP, the server's INFO, then CONNECT, the subscriptions, what was kept
    /// meanwhile and a PING, whose PONG says the server took it all.
    private func open() async throws {
        let generation = state.withLock { s -> Int in s.generation += 1; return s.generation }
        let loop = group.next()
        let greeted = loop.makePromise(of: NATSServerInfo.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(Int64(options.connectTimeout * 1e9)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NATSOpDecoder()))
                    try channel.pipeline.syncOperations.addHandler(NATSInbound(connection: self, generation: generation, greeted: greeted))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: options.host, port: options.port).get()
        } catch {
            greeted.fail(error)
            throw NATSError.cannotConnect("\(options.host):\(options.port): \(error)")
        }
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(options.connectTimeout * 1e9))) {
            greeted.fail(NATSError.timeout("no INFO within \(self.options.connectTimeout) s"))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        let connect = NATSConnectOptions(name: options.name)
        // CONNECT goes out on the channel's event loop the moment INFO is read (no hop through
        // the cooperative pool, which a busy process can hold for seconds: a server closes a
        // client that has not sent CONNECT within its authorization timeout, a second by
        // default). There too its end is seen: a channel that closed meanwhile is not taken.
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            greeted.futureResult.whenComplete { [self] result in
                switch result {
                case .success(let info):
                    register(channel, generation: generation, info: info, connect: connect, handshake: c)
                case .failure(let error):
                    channel.close(promise: nil)
                    c.resume(throwing: error)
                }
            }
        }
    }

    /// The CONNECT, the subscriptions, what was kept while reconnecting and the PING whose
    /// PONG ends the handshake (`handshake` is resumed then).
    private func register(_ channel: any Channel, generation: Int, info: NATSServerInfo, connect: NATSConnectOptions,
                          handshake c: CheckedContinuation<Void, any Error>) {
            state.withLock { s in
                guard s.phase != .closed, s.generation == generation, channel.isActive else {
                    c.resume(throwing: NATSError.cannotConnect("the connection closed during the handshake"))
                    return
                }
                s.info = info
                s.channel = channel
                s.outbound = ByteBuffer()
                s.phase = .connected
                s.pingsOut = 0
                var out = Self.encode([.connect(connect)])
                var subs: [NATSClientOp] = []
                for sub in s.subscriptions.values.sorted(by: { $0.sid < $1.sid }) {
                    subs.append(.subscribe(subject: sub.subject, queue: sub.queue, sid: sub.sid))
                    if let left = sub.remaining { subs.append(.unsubscribe(sid: sub.sid, max: left)) }
                }
                if let sid = s.inboxSid { subs.append(.subscribe(subject: inboxPrefix + "*", queue: nil, sid: sid)) }
                var subBytes = Self.encode(subs)
                out.writeBuffer(&subBytes)
                out.writeBuffer(&s.pending)
                s.pending = ByteBuffer()
                var ping = Self.encode([.ping])
                out.writeBuffer(&ping)
                s.nextWaiter += 1
                s.pongWaiters.append((s.nextWaiter, c))
                channel.writeAndFlush(out, promise: nil)
                s.pingTask?.cancel()
                let interval = TimeAmount.nanoseconds(Int64(options.pingInterval * 1e9))
                s.pingTask = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in keepAlive(channel) }
            }
    }

    /// A keep-alive PING; after too many unanswered, the connection is taken for dead.
    private func keepAlive(_ channel: any Channel) {
        let stale: Bool = state.withLock { s in
            guard s.channel === channel else { return false }
            if s.pingsOut >= options.maxPingsOut { return true }
            s.pingsOut += 1
            s.pongWaiters.append(nil)
            // Behind what is queued, so PONGs answer PINGs in the order flush waiters expect.
            _ = write(Self.encode([.ping]), in: &s, keep: false)
            return false
        }
        if stale { lost(channel, reason: "stale connection: \(options.maxPingsOut) PINGs unanswered") }
    }

    // MARK: what the server sends (called on the channel's event loop)

    fileprivate func received(_ op: NATSServerOp, on channel: any Channel, generation: Int) {
        switch op {
        case .message(var m):
            m.connection = generation
            deliver(m)
        case .ping:
            channel.writeAndFlush(Self.encode([.pong]), promise: nil)
        case .pong:
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                s.pingsOut = 0
                // The first PONG of a connection answers the handshake: from here on, a loss
                // is a disconnection to reconnect from. (Marked here, on the event loop, not
                // once `open` resumes: the connection may be lost in between.)
                if !s.established { s.established = true; s.everEstablished = true }
                return s.pongWaiters.isEmpty ? nil : s.pongWaiters.removeFirst()?.waiter
            }
            waiter?.resume()
        case .info(let info):
            state.withLock { $0.info = info }
            if info.lameDuckMode { eventSink.yield(.lameDuckMode) }
        case .ok:
            break
        case .error(let text):
            eventSink.yield(.serverError(text))
            // An -ERR during the handshake fails it (the server closes after it; a permissions
            // violation, which it does not close for, refuses one subscription or publication).
            guard !text.lowercased().hasPrefix("permissions violation") else { return }
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard !s.established, let k = s.pongWaiters.firstIndex(where: { $0 != nil }) else { return nil }
                defer { s.pongWaiters.remove(at: k) }
                return s.pongWaiters[k]?.waiter
            }
            waiter?.resume(throwing: NATSError.serverError(text))
        }
    }

    private func deliver(_ m: NATSMessage) {
        let (sub, request, inboxSid) = state.withLock { s -> (NATSSubscription?, (subject: String, waiter: CheckedContinuation<NATSMessage, any Error>)?, UInt64?) in
            s.statistics.messagesIn += 1
            s.statistics.bytesIn += m.payload.readableBytes
            if m.sid == s.inboxSid, m.subject.hasPrefix(inboxPrefix) {
                return (nil, s.requests.removeValue(forKey: String(m.subject.dropFirst(inboxPrefix.count))), s.inboxSid)
            }
            return (s.subscriptions[m.sid], nil, s.inboxSid)
        }
        if m.sid == inboxSid {
            guard let request else { return }
            if m.headers?.status == 503 {
                request.waiter.resume(throwing: NATSError.noResponders(subject: request.subject))
            } else {
                request.waiter.resume(returning: m)
            }
            return
        }
        guard let sub else { return }
        switch sub.deliver(m) {
        case .queued:
            break
        case .queuedLast:
            _ = state.withLock { $0.subscriptions.removeValue(forKey: sub.sid) }
        case .dropped(let episodeBegins):
            droppedTotal.add(1, ordering: .relaxed)
            let reported = sub.sink ?? sub
            if episodeBegins { eventSink.yield(.slowConsumer(sid: reported.sid, subject: reported.subject)) }
        }
    }

    /// The connection `channel` is gone (closed by the server, the network, or as stale).
    fileprivate func lost(_ channel: any Channel, reason: String) {
        let (wasEstablished, startLoop, closeNow, waiters) = state.withLock { s -> (Bool, Bool, Bool, [(id: Int, waiter: CheckedContinuation<Void, any Error>)?]) in
            guard s.phase != .closed, s.channel === channel else { return (false, false, false, []) }
            let wasEstablished = s.established
            s.established = false
            s.phase = .reconnecting
            s.channel = nil
            s.pingTask?.cancel()
            s.pingTask = nil
            // A connection that never got through its first handshake is not reconnected:
            // `connect` throws instead.
            let start = options.reconnect && s.everEstablished && !s.reconnectLoop
            if start { s.reconnectLoop = true }
            defer { s.pongWaiters = [] }
            return (wasEstablished, start, !options.reconnect && s.everEstablished, s.pongWaiters)
        }
        channel.close(promise: nil)
        for w in waiters { w?.waiter.resume(throwing: NATSError.cannotConnect("connection lost: \(reason)")) }
        if wasEstablished { eventSink.yield(.disconnected(reason)) }
        if closeNow { Task { await close() } }
        if startLoop { Task { await reconnect() } }
    }

    /// Attempts with backoff until one connects, the attempts run out, or `close()`.
    private func reconnect() async {
        defer { state.withLock { $0.reconnectLoop = false } }
        var attempt = 0
        while true {
            attempt += 1
            if let max = options.maxReconnectAttempts, attempt > max { await close(); return }
            let wait = options.backoff(attempt: attempt, jitter: Double.random(in: 0...1))
            try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
            guard state.withLock({ $0.phase }) == .reconnecting else { return }
            do {
                try await open()
                state.withLock { $0.statistics.reconnects += 1 }
                eventSink.yield(.reconnected(attempt: attempt))
                return
            } catch {
                // A handshake that failed after its channel was registered left the phase at
                // connected until `lost` saw the channel go; either way, try again.
                state.withLock { s in if s.phase == .connected && !s.established { s.phase = .reconnecting; s.channel = nil } }
            }
        }
    }
}

/// The pipeline's end: the server's operations to the connection, the first INFO to the
/// handshake, the end of the channel to the reconnect.
private final class NATSInbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = NATSServerOp
    let connection: NATSConnection
    let generation: Int
    let greeted: EventLoopPromise<NATSServerInfo>
    private let hasInfo = Atomic<Bool>(false)
    private let failure = Mutex<String?>(nil)

    init(connection: NATSConnection, generation: Int, greeted: EventLoopPromise<NATSServerInfo>) {
        self.connection = connection
        self.generation = generation
        self.greeted = greeted
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let op = unwrapInboundIn(data)
        if !hasInfo.load(ordering: .relaxed) {
            guard case .info(let info) = op else {
                greeted.fail(NATSError.protocolViolation("the server's first message is not INFO"))
                context.close(promise: nil)
                return
            }
            hasInfo.store(true, ordering: .relaxed)
            greeted.succeed(info)
            return
        }
        connection.received(op, on: context.channel, generation: generation)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure.withLock { $0 = "\(error)" }
        greeted.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = failure.withLock { $0 } ?? "closed by the server"
        greeted.fail(NATSError.cannotConnect(reason))
        connection.lost(context.channel, reason: reason)
        context.fireChannelInactive()
    }
}

/// 22 random letters and digits (an inbox's unique part).
func randomToken() -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    return String((0..<22).map { _ in alphabet.randomElement()! })
}
