using System.Text;
using Fleet.Gateway.Ingestion;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Tests.Ingestion;

public sealed class GatewayTopicsAndOptionsTests
{
    [Theory]
    [InlineData("fleet/v1/T0145/telemetry", GatewayTopicKind.Telemetry, "T0145")]
    [InlineData("fleet/v1/T0145/status", GatewayTopicKind.Status, "T0145")]
    [InlineData("fleet/v1//telemetry", GatewayTopicKind.Telemetry, "")]
    [InlineData("fleet/v1/T0145/command", GatewayTopicKind.Other, "")]
    [InlineData("fleet/v1/T0145/telemetry/x", GatewayTopicKind.Other, "")]
    [InlineData("fleet/v2/T0145/telemetry", GatewayTopicKind.Other, "")]
    [InlineData("fleet/v1/T0145", GatewayTopicKind.Other, "")]
    public void Topics_are_classified_and_their_terminal_level_found(string topic, GatewayTopicKind kind, string terminalId)
    {
        var bytes = Encoding.UTF8.GetBytes(topic);
        Assert.Equal(kind, GatewayTopics.Parse(bytes, out var id));
        Assert.Equal(terminalId, Encoding.UTF8.GetString(bytes.AsSpan()[id]));
    }

    [Fact]
    public void The_defaults_are_valid_and_out_of_range_settings_fail_on_start()
    {
        Assert.True(new GatewayOptionsValidator().Validate(null, new GatewayOptions()).Succeeded);

        var services = new ServiceCollection();
        services.AddFleetGateway(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:Gateway:ReceiveMaximum"] = "70000",
            ["Fleet:Gateway:RejectRetentionDays"] = "0",
            ["Fleet:Gateway:SessionExpiry"] = "00:00:00",
            ["Fleet:Mqtt:Password"] = "secret",
        }).Build());
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GatewayOptions>>().Value);
        Assert.Equal(3, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("SessionExpiry", StringComparison.Ordinal));
    }
}
