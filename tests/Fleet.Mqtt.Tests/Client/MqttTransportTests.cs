using System.Net.Security;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using static Fleet.Mqtt.Tests.Client.MqttTestHelpers;

namespace Fleet.Mqtt.Tests.Client;

/// <summary>TLS, and how received messages are cut into batches.</summary>
public sealed class MqttTransportTests(MosquittoFixture fixture)
{
    private readonly MosquittoServer _server = fixture.Server;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Theory(Timeout = 30_000)]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Publish_and_subscribe_work_over_tls_with_a_pinned_certificate(MqttProtocolVersion version)
    {
        await using var server = await MosquittoServer.StartAsync(new MosquittoServerOptions { EnableTls = true }, Token);
        var pinned = server.TlsCertificate!;
        var options = Options(server, Unique("tls"), version) with
        {
            Port = server.TlsPort,
            Tls = new SslClientAuthenticationOptions
            {
                // A throwaway self-signed certificate: trust exactly that one.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == pinned.GetCertHashString(),
            },
        };
        await using var client = await ConnectAsync(options, Token);
        var topic = $"it/{Unique("tls")}/data";
        await client.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);

        var result = await client.PublishAsync(topic, Utf8("encrypted"), MqttQualityOfService.AtLeastOnce, cancellationToken: Token);

        Assert.True(result.IsSuccess);
        Assert.Equal("encrypted", Assert.Single(await ReceiveAsync(client, 1, TimeSpan.FromSeconds(10), Token)).Payload);
    }

    [Fact(Timeout = 30_000)]
    public async Task Tls_connect_fails_when_the_certificate_is_not_trusted()
    {
        await using var server = await MosquittoServer.StartAsync(new MosquittoServerOptions { EnableTls = true }, Token);
        var options = Options(server, Unique("tls")) with
        {
            Port = server.TlsPort,
            Tls = new SslClientAuthenticationOptions(),
        };
        await using var client = new MqttClient(options);

        await Assert.ThrowsAsync<System.Security.Authentication.AuthenticationException>(() => client.ConnectAsync(Token));
    }

    [Fact(Timeout = 30_000)]
    public async Task Received_messages_are_cut_into_batches_of_at_most_the_configured_size()
    {
        var topic = $"it/{Unique("batch")}/data";
        await using var subscriber = await ConnectAsync(Options(_server, Unique("s")) with { MaximumBatchMessages = 3 }, Token);
        await subscriber.SubscribeAsync(topic, MqttQualityOfService.AtLeastOnce, Token);
        await using var publisher = await ConnectAsync(Options(_server, Unique("p")), Token);
        var publishes = Enumerable.Range(0, 100)
            .Select(i => publisher.PublishAsync(topic, Utf8($"b{i}"), i % 2 == 0 ? MqttQualityOfService.AtLeastOnce : MqttQualityOfService.AtMostOnce, cancellationToken: Token).AsTask())
            .ToList();
        await Task.WhenAll(publishes);

        var payloads = new List<string>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (payloads.Count < 100)
        {
            using var batch = await subscriber.ReadBatchAsync(timeout.Token);
            Assert.InRange(batch.Count, 1, 3);
            payloads.AddRange(Copy(batch).Select(m => m.Payload));
        }

        // MQTT orders messages per QoS level only, so compare as sets.
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"b{i}").Order(), payloads.Order());
    }
}
