using Fleet.Web;
using Fleet.Web.Demo;

if (args is ["seed", .. var seedArgs])
{
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancel.Cancel();
    };
    var configuration = new ConfigurationBuilder()
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables()
        .Build();
    return await SeedCommand.RunAsync(seedArgs, configuration, Console.Out, Console.Error, cancel.Token);
}

await FleetApp.Build(args).RunAsync();
return 0;
