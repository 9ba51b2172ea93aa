using System.Diagnostics.Metrics;
using Fleet.Core.Diagnostics;
using Fleet.Gateway.Ingestion;
using Fleet.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>The gateway's counters and gauges on the Fleet meter, as /metrics reads them.</summary>
public sealed class GatewayMetricsTests(PostgresFixture postgres)
{
    [Fact(Timeout = 60_000)]
    public async Task Received_accepted_duplicate_and_rejected_reports_are_counted_with_the_reject_reason()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 2);
        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var metrics = new ObservedMetrics(meterFactory);
        var gateway = await kit.StartGatewayAsync(meterFactory: meterFactory);
        var terminal = await kit.ConnectTerminalAsync(kit.Terminals[0]);
        var now = NowMs;

        await PublishAsync(terminal, TelemetryTopic(kit.Terminals[0].TerminalId), $"[{Report(now - 2000, 1)},{Report(now - 1000, 2)}]");
        await PublishAsync(terminal, TelemetryTopic(kit.Terminals[0].TerminalId), Report(now, 3));
        await PublishAsync(terminal, TelemetryTopic(kit.Terminals[0].TerminalId), Report(now, 3));
        await PublishAsync(terminal, TelemetryTopic(kit.Terminals[0].TerminalId), Report(now, 4, lat: 91));
        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == 4, TimeSpan.FromSeconds(10), "four messages acknowledged", gateway);
        var observed = metrics.Observe();

        Assert.Equal(5, observed["fleet.reports.received"]);
        Assert.Equal(3, observed["fleet.reports.accepted"]);
        Assert.Equal(1, observed["fleet.reports.duplicate"]);
        Assert.Equal(1, observed["fleet.reports.rejected{reason=InvalidPosition}"]);
        Assert.Equal(0, observed["fleet.reports.rejected{reason=UnknownTerminal}"]);
        Assert.DoesNotContain("fleet.reports.rejected{reason=None}", observed.Keys);
        Assert.Equal(4, observed["fleet.gateway.messages.received"]);
        Assert.Equal(4, observed["fleet.gateway.messages.acknowledged"]);
        Assert.Equal(0, observed["fleet.gateway.inflight.batches"]);
        Assert.Equal(0, observed["fleet.gateway.inflight.messages"]);
        Assert.Equal(1, observed["fleet.gateway.connected"]);
    }

    [Fact]
    public void The_gateway_adds_its_own_health_check()
    {
        var services = new ServiceCollection();
        services.AddFleetGateway(new ConfigurationBuilder().Build());
        using var provider = services.BuildServiceProvider();

        var registrations = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;

        Assert.Equal("gateway", Assert.Single(registrations).Name);
    }

    /// <summary>Reads the observable instruments of one meter factory's Fleet meter: "name" or "name{tag=value}" → value.</summary>
    private sealed class ObservedMetrics : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _values = new(StringComparer.Ordinal);

        public ObservedMetrics(IMeterFactory meterFactory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name == FleetMeter.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
            _listener.Start();
        }

        public Dictionary<string, long> Observe()
        {
            _values.Clear();
            _listener.RecordObservableInstruments();
            return new Dictionary<string, long>(_values, StringComparer.Ordinal);
        }

        public void Dispose() => _listener.Dispose();

        private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = instrument.Name;
            foreach (var (name, tag) in tags)
            {
                key += $"{{{name}={tag}}}";
            }

            _values[key] = value;
        }
    }
}
