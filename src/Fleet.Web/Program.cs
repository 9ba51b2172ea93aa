using Fleet.Web;

await FleetApp.Build(args).RunAsync();
