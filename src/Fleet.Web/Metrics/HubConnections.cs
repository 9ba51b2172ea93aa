using System.Diagnostics.Metrics;
using Fleet.Core.Diagnostics;
using Fleet.Web.Live;

namespace Fleet.Web.Metrics;

/// <summary>How many clients the live hub serves now, for the gauge <c>fleet_hub_connections</c>.</summary>
public interface IHubConnectionCounter
{
    int Connections { get; }
}

/// <summary>The live hub's connections that hold a subscription (a map page open), as the broadcaster counts them.</summary>
internal sealed class LiveSubscriberCounter(LiveBroadcaster broadcaster) : IHubConnectionCounter
{
    public int Connections => broadcaster.Subscribers;
}

/// <summary>For a host without the live hub.</summary>
internal sealed class NoHubConnections : IHubConnectionCounter
{
    public static readonly NoHubConnections Instance = new();

    public int Connections => 0;
}

/// <summary>The web layer's instruments.</summary>
internal sealed class WebMetrics
{
    public WebMetrics(IMeterFactory meterFactory, IHubConnectionCounter hubConnections)
    {
        var meter = FleetMeter.Create(meterFactory);
        meter.CreateObservableGauge("fleet.hub.connections", () => hubConnections.Connections, "{connection}", "Live hub connections subscribed to frames");
    }
}
