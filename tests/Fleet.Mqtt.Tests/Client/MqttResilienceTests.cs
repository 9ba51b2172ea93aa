using System.Diagnostics;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>Broken connections: dead peers, broker restarts and kills. Each test runs its own broker.</summary>
public sealed class MqttResilienceTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_dead_peer_is_detected_by_the_missing_ping_response_and_the_client_reconnects()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        var options = Options(server, Unique("dead")) with
        {
            KeepAlive = TimeSpan.FromSeconds(1),
            PingTimeout = TimeSpan.FromSeconds(1),
            ConnectTimeout = TimeSpan.FromSeconds(1),
        };
        await using var client = await ConnectAsync(options, Token);

        // SIGSTOP: the kernel keeps the TCP connection up, but nothing answers — the case only keep-alive can catch.
        server.Pause();
        var stopwatch = Stopwatch.StartNew();
        await EventuallyAsync(() => !client.IsConnected, TimeSpan.FromSeconds(10), "the client to notice the dead peer", Token);
        TestContext.Current.TestOutputHelper?.WriteLine($"dead peer detected after {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");

        server.Resume();
        await EventuallyAsync(() => client.IsConnected && client.ConnectionGeneration >= 2, TimeSpan.FromSeconds(20), "the client to reconnect", Token);
        var result = await client.PublishAsync("it/after-resume", Utf8("ok"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        Assert.True(result.IsSuccess);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_subscriber_whose_reader_is_blocked_by_a_full_queue_keeps_pinging_and_is_not_dropped()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        var topic = $"it/{Unique("blocked")}/data";

        // A tiny receive queue that nobody reads: the reader blocks with a PINGRESP (or more) unread behind it.
        var options = Options(server, Unique("blocked")) with
        {
            KeepAlive = TimeSpan.FromSeconds(1),
            ManualAcknowledge = true,
            ReceiveQueueBatches = 1,
            MaximumBatchMessages = 1,
        };
        await using var subscriber = await ConnectAsync(options, Token);
        await subscriber.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);
        await using var publisher = await ConnectAsync(Options(server, Unique("pub")), Token);
        for (var i = 0; i < 50; i++)
        {
            await publisher.PublishAsync(topic, Utf8($"m{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
        }

        var generation = subscriber.ConnectionGeneration;

        // Mosquitto drops a client silent for 1.5 × keep-alive, but this version only notices some seconds late.
        // The blocked client cannot see the drop (it reads nothing), so the broker's log is the witness.
        await Task.Delay(TimeSpan.FromSeconds(10), Token);
        var log = server.ReadLog();
        Assert.DoesNotContain("exceeded timeout", log, StringComparison.Ordinal);

        // And the queue drains on the same connection once the consumer is back.
        var received = await ReceiveAsync(subscriber, 50, TimeSpan.FromSeconds(10), Token);
        Assert.True(subscriber.IsConnected);
        Assert.True(generation == subscriber.ConnectionGeneration, log);
        Assert.Equal(50, received.Count);
    }

    [Fact(Timeout = 90_000)]
    public async Task Client_reconnects_after_a_broker_restart_resumes_its_session_and_delivers_publishes_made_during_the_outage()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        var topic = $"it/{Unique("restart")}/data";
        var persistent = new Func<string, MqttClientOptions>(id => Options(server, id) with { CleanStart = false, SessionExpiryInterval = 600 });

        await using var subscriber = await ConnectAsync(persistent(Unique("sub")), Token);
        await subscriber.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);

        // This one has no session to resume: it must resubscribe by itself.
        await using var cleanSubscriber = await ConnectAsync(Options(server, Unique("clean")), Token);
        await cleanSubscriber.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);

        await using var publisher = await ConnectAsync(persistent(Unique("pub")), Token);

        // A graceful stop: Mosquitto writes its sessions to disk on the way out.
        await server.StopAsync(Token);
        await EventuallyAsync(() => !publisher.IsConnected && !subscriber.IsConnected, TimeSpan.FromSeconds(5), "the clients to lose their connections", Token);
        var pending = Enumerable.Range(0, 20)
            .Select(i => publisher.PublishAsync(topic, Utf8($"p{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask())
            .ToList();
        await Task.Delay(500, Token);
        Assert.All(pending, p => Assert.False(p.IsCompleted));
        Assert.Equal(20, publisher.InflightCount);

        await server.StartAgainAsync(Token);

        var results = await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.True(publisher.ConnectionGeneration >= 2);
        await EventuallyAsync(() => subscriber.IsConnected && subscriber.ConnectionGeneration >= 2, TimeSpan.FromSeconds(20), "the subscriber to reconnect", Token);
        Assert.True(subscriber.LastConnAck!.SessionPresent);

        var received = await ReceiveAsync(subscriber, 20, TimeSpan.FromSeconds(20), Token);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"p{i}").Order(), received.Select(m => m.Payload).Distinct().Order());

        // The clean subscriber lost its subscription with the broker; it gets messages again once it has resubscribed.
        await EventuallyAsync(() => cleanSubscriber.IsConnected && cleanSubscriber.ConnectionGeneration >= 2, TimeSpan.FromSeconds(20), "the clean subscriber to reconnect", Token);
        Assert.False(cleanSubscriber.LastConnAck!.SessionPresent);
        var gotMarker = false;
        for (var attempt = 0; attempt < 50 && !gotMarker; attempt++)
        {
            await publisher.PublishAsync(topic, Utf8("marker"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);
            gotMarker = (await DrainAsync(cleanSubscriber, TimeSpan.FromMilliseconds(200), Token)).Any(m => m.Payload == "marker");
        }

        Assert.True(gotMarker, "the clean subscriber never resubscribed");
    }

    [Theory(Timeout = 60_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unacknowledged_publishes_are_resent_with_dup_when_the_session_resumes(MqttProtocolVersion version)
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        await using var proxy = new FreezableTcpProxy(server.Port);
        var topic = $"it/{Unique("dup")}/data";
        await using var subscriber = await ConnectAsync(Options(server, Unique("sub"), version), Token);
        await subscriber.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);

        var publisherOptions = Options(server, Unique("pub"), version) with { Port = proxy.Port, CleanStart = false, SessionExpiryInterval = 600 };
        await using var publisher = await ConnectAsync(publisherOptions, Token);

        // The broker gets the PUBLISHes (and delivers them) but its PUBACKs are lost on the way back.
        proxy.Frozen = true;
        var pending = Enumerable.Range(0, 20)
            .Select(i => publisher.PublishAsync(topic, Utf8($"d{i}"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask())
            .ToList();
        var firstDelivery = await ReceiveAsync(subscriber, 20, TimeSpan.FromSeconds(10), Token);
        Assert.All(firstDelivery, m => Assert.False(m.Dup));
        Assert.All(pending, p => Assert.False(p.IsCompleted));

        proxy.Frozen = false;
        proxy.DropConnections();

        var results = await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(20), Token);
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.True(publisher.LastConnAck!.SessionPresent);
        Assert.Equal(2, publisher.ConnectionGeneration);
        Assert.Equal(20, publisher.DuplicatesResent);
        Assert.Equal(0, publisher.InflightCount);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_publish_awaiting_when_the_broker_is_killed_completes_after_the_restart()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        await using var client = await ConnectAsync(Options(server, Unique("k")) with { ConnectTimeout = TimeSpan.FromSeconds(1) }, Token);

        server.Pause();
        var publish = client.PublishAsync("it/killed", Utf8("x"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask();
        await Task.Delay(200, Token);
        await server.KillAsync();
        await Task.Delay(500, Token);
        Assert.False(publish.IsCompleted);

        await server.StartAgainAsync(Token);
        var result = await publish.WaitAsync(TimeSpan.FromSeconds(20), Token);
        Assert.True(result.IsSuccess);
    }

    [Fact(Timeout = 60_000)]
    public async Task Without_reconnect_a_publish_awaiting_a_killed_broker_faults_promptly()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        await using var client = await ConnectAsync(Options(server, Unique("k")) with { AutoReconnect = false }, Token);

        server.Pause();
        var publish = client.PublishAsync("it/killed", Utf8("x"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask();
        await server.KillAsync();

        await Assert.ThrowsAsync<MqttConnectionLostException>(() => publish.WaitAsync(TimeSpan.FromSeconds(10), Token));
        await Assert.ThrowsAsync<MqttConnectionLostException>(() => client.PublishAsync("it/killed", Utf8("y"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
        await Assert.ThrowsAsync<MqttConnectionLostException>(() => client.ReadBatchAsync(Token).AsTask());
    }

    [Fact(Timeout = 60_000)]
    public async Task While_the_broker_is_down_callers_honour_cancellation_and_dispose_completes()
    {
        await using var server = await MosquittoServer.StartAsync(cancellationToken: Token);
        var client = await ConnectAsync(Options(server, Unique("down")) with { ConnectTimeout = TimeSpan.FromSeconds(1) }, Token);
        await server.KillAsync();
        await EventuallyAsync(() => !client.IsConnected, TimeSpan.FromSeconds(5), "the client to notice the broker is gone", Token);

        using (var shortWait = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            shortWait.CancelAfter(TimeSpan.FromMilliseconds(300));
            var stopwatch = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PublishAsync("it/down", Utf8("x"), MqttQualityOfService.AtLeastOnce, cancellationToken: shortWait.Token).AsTask());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PublishAsync("it/down", Utf8("x"), MqttQualityOfService.AtMostOnce, cancellationToken: shortWait.Token).AsTask());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SubscribeAsync("it/down", cancellationToken: shortWait.Token));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReadBatchAsync(shortWait.Token).AsTask());
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3));
        }

        var stranded = client.PublishAsync("it/down", Utf8("never"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask();
        var dispose = client.DisposeAsync().AsTask();
        await dispose.WaitAsync(TimeSpan.FromSeconds(10), Token);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stranded.WaitAsync(TimeSpan.FromSeconds(5), Token));
    }
}
